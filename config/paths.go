package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"
)

// maxSocketPath is the longest path a Unix socket can bind on Linux
// (sun_path is 108 bytes, one for the final NUL).
const maxSocketPath = 107

// path reads a non-empty path and makes it absolute against the config's
// folder, never the working directory: the manager may be started from
// anywhere, and the file must mean the same thing each time.
func (p *parser) path(key string, v *yaml.Node, want string) (given, abs string, ok bool) {
	s, ok := p.scalar(key, v, want)
	switch {
	case !ok:
		return "", "", false
	case s == "":
		p.add(v.Line, key, "empty path; remove the key for the default")
		return "", "", false
	case strings.ContainsRune(s, 0):
		p.add(v.Line, key, "contains a NUL byte, which no path can hold")
		return "", "", false
	}
	if filepath.IsAbs(s) {
		return s, filepath.Clean(s), true
	}
	return s, filepath.Join(p.c.Dir, s), true
}

// workDir reads `dir`, the children's working directory: it must exist.
func (p *parser) workDir(v *yaml.Node) {
	given, abs, ok := p.path("dir", v, `a folder like "app"`)
	if !ok {
		p.dirBad = true
		return
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		p.add(v.Line, "dir", "%s %s", shown(given, abs), missing(given, err))
		p.dirBad = true
	case !fi.IsDir():
		p.add(v.Line, "dir", "%s is not a directory", shown(given, abs))
		p.dirBad = true
	default:
		p.c.WorkDir = abs
	}
}

// missing words a failed Stat, with a hint for the one common slip that
// the shell would have fixed: "~" is not expanded here.
func missing(given string, err error) string {
	msg := "does not exist"
	if !errors.Is(err, fs.ErrNotExist) {
		msg = fmt.Sprintf("cannot be used: %v", reason(err))
	}
	if strings.HasPrefix(given, "~") {
		msg += ` ("~" is not expanded; write the full path)`
	}
	return msg
}

// logsDir reads `logs.dir`. The folder is created by the manager, so it
// need not exist, but it must be creatable: its nearest existing parent
// must be a folder.
func (p *parser) logsDir(val *yaml.Node) {
	given, abs, ok := p.path("logs.dir", val, `a folder like "logs"`)
	if !ok {
		return
	}
	if msg := creatable(abs); msg != "" {
		p.add(val.Line, "logs.dir", "%s %s", shown(given, abs), msg)
		return
	}
	p.c.Logs.Dir = abs
}

// creatable says why the folder dir could not be used or made, or "".
func creatable(dir string) string {
	for path := dir; ; path = filepath.Dir(path) {
		fi, err := os.Stat(path)
		switch {
		case err == nil && fi.IsDir():
			return ""
		case err == nil && path == dir:
			return "is not a directory"
		case err == nil:
			return fmt.Sprintf("cannot be created: %s is not a directory", path)
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			return fmt.Sprintf("cannot be used: %v", reason(err))
		case path == filepath.Dir(path):
			return "cannot be created: no parent folder exists"
		}
	}
}

// socket reads `socket`, the control socket's path. Its length is checked
// in finish, where the default is checked too.
func (p *parser) socket(v *yaml.Node) {
	if _, abs, ok := p.path("socket", v, `a path like "/tmp/hellomgr.sock"`); ok {
		p.c.Socket, p.socketLine = abs, v.Line
	}
}

// checkSocket refuses a socket path too long to bind: the kernel's error
// ("invalid argument") would not say why.
func (p *parser) checkSocket() {
	n := len(p.c.Socket)
	if n <= maxSocketPath {
		return
	}
	if p.socketLine > 0 {
		p.add(p.socketLine, "socket", "path is %d bytes, more than the %d a Unix socket allows; choose a shorter one, e.g. socket: /tmp/hellomgr.sock", n, maxSocketPath)
		return
	}
	p.add(1, "socket", "the default %s is %d bytes, more than the %d a Unix socket allows; add a shorter `socket:`, e.g. socket: /tmp/hellomgr.sock", p.c.Socket, n, maxSocketPath)
}
