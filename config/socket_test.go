package config

import (
	"path/filepath"
	"testing"
)

// Socket finds the socket Load finds, for every good config, with or
// without a `socket:`.
func TestSocketIsTheOneLoadFinds(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "good", "*.yaml"))
	files = append(files, write(t, "ports: [8001]\nsocket: run/ctl.sock\n"), write(t, "ports: [8001]\nsocket: /tmp/hm.sock\n"))
	for _, f := range files {
		c, err := Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if got, err := Socket(f); err != nil || got != c.Socket {
			t.Errorf("%s: Socket %q, %v; Load says %q", f, got, err, c.Socket)
		}
	}
}

// A manager stays reachable on the socket its config names while a typo
// elsewhere in the file is being fixed; a file with nothing usable leads
// to the default socket beside it.
func TestSocketOfABrokenConfig(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"bad key elsewhere", "ports: [8001]\nsocket: /tmp/hm.sock\nrestart:\n  backof: 1s\n", "/tmp/hm.sock"},
		{"bad value elsewhere", "ports: [80x1]\nsocket: ctl.sock\n", "ctl.sock"},
		{"syntax error", "ports: [8001\nsocket: /tmp/hm.sock\n", ""},
		{"socket not a path", "ports: [8001]\nsocket: [a, b]\n", ""},
		{"empty file", "", ""},
		{"a list", "- 8001\n", ""},
	} {
		f := write(t, c.yaml)
		if _, err := Load(f); err == nil {
			t.Fatalf("%s: Load accepts it", c.name)
		}
		want := filepath.Join(filepath.Dir(f), ".hellomgr", "hellomgr.sock") // "": the default
		if c.want != "" {
			want = filepath.Join(filepath.Dir(f), c.want) // relative to the file, or absolute
			if filepath.IsAbs(c.want) {
				want = c.want
			}
		}
		if got, err := Socket(f); err != nil || got != want {
			t.Errorf("%s: Socket %q, %v; want %q", c.name, got, err, want)
		}
	}
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	if got, want := mustSocket(t, missing), filepath.Join(filepath.Dir(missing), ".hellomgr", "hellomgr.sock"); got != want {
		t.Errorf("missing file: Socket %q, want %q", got, want)
	}
}

func mustSocket(t *testing.T, path string) string {
	t.Helper()
	s, err := Socket(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
