package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// runsServe reports whether argv runs a hellomgr binary's built-in server:
// its program is the hellomgr that reads this config (the same file, by any
// path or link) or is named hellomgr, and its subcommand is serve. A user
// writes that to pass serve a flag (--message), and should get the
// built-in server's safe defaults all the same.
func runsServe(argv []string, workDir string) bool {
	if len(argv) < 2 || argv[1] != "serve" {
		return false
	}
	name := argv[0]
	if filepath.Base(name) == "hellomgr" {
		return true
	}
	path := name
	if !strings.Contains(name, "/") {
		found, err := exec.LookPath(name)
		if err != nil {
			return false
		}
		path = found
	} else if !filepath.IsAbs(name) {
		path = filepath.Join(workDir, name)
	}
	exe, err := os.Executable() // the running hellomgr
	return err == nil && sameFile(path, exe)
}

func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}
