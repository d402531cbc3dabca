// Package e2e holds the end-to-end tests: the hellomgr binary, built once,
// runs real instances behind a real nginx (and Prometheus), with real load.
// Their dependencies come from Debian's packages, which the README's test
// command installs; a test whose dependency is missing fails, it never
// skips.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// hellomgrBin is the binary under test, built by TestMain.
var hellomgrBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hme2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hellomgrBin = filepath.Join(dir, "hellomgr")
	build := exec.Command("go", "build", "-o", hellomgrBin, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build hellomgr:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need fails the test when a program from Debian's packages is missing.
func need(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing: run `apt-get install -y %s` (the README's test command does)", path, pkg)
	}
}

// needTornado fails the test unless /usr/bin/python3 can import tornado.
func needTornado(t *testing.T) {
	t.Helper()
	need(t, "/usr/bin/python3", "python3")
	if out, err := exec.Command("/usr/bin/python3", "-c", "import tornado").CombinedOutput(); err != nil {
		t.Fatalf("/usr/bin/python3 cannot import tornado (%v: %s): run `apt-get install -y python3-tornado`", err, out)
	}
}
