package nginx

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// WriteFile replaces only a file it wrote: a file someone else wrote, or a
// symbolic link, is refused and left as it was, content and type.
func TestWriteFileRefusesFilesItDidNotWrite(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.conf")
	os.WriteFile(target, []byte(Header+"\nupstream real {}\n"), 0o644)
	for _, tc := range []struct {
		name  string
		plant func(path string)
		want  string
	}{
		{"someone else's file", func(path string) { os.WriteFile(path, []byte("upstream mine { server 10.0.0.1; }\n"), 0o644) },
			`: was not written by hellomgr (it does not start with "# Written by hellomgr"), and hellomgr replaces only its own upstream file; move it away (hellomgr writes a new one), or set nginx.upstream_file to another path`},
		{"an empty file", func(path string) { os.WriteFile(path, nil, 0o644) },
			`: was not written by hellomgr`},
		{"a symbolic link to a hellomgr file", func(path string) { os.Symlink(target, path) },
			`: is a symbolic link, which hellomgr would replace with a plain file at every rollout; set nginx.upstream_file to the file it points to`},
		{"a named pipe", func(path string) { mkfifo(t, path) },
			`: is not a regular file, so not one hellomgr wrote; set nginx.upstream_file to another path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".conf")
			tc.plant(path)
			before := snapshot(t, path)
			err := Upstream{Name: "app", Ports: []int{8001}}.WriteFile(path)
			if err == nil || !strings.HasPrefix(err.Error(), path+tc.want) {
				t.Errorf("WriteFile: got %v, want %q", err, path+tc.want)
			}
			if check := CheckFile(path); check == nil || check.Error() != err.Error() {
				t.Errorf("CheckFile: got %v, want WriteFile's error", check)
			}
			if after := snapshot(t, path); after != before {
				t.Errorf("%s changed: %s, was %s", path, after, before)
			}
			if b, _ := os.ReadFile(target); string(b) != Header+"\nupstream real {}\n" {
				t.Errorf("the link's target changed: %q", b)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".upstream-*")); len(left) != 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}

// A file hellomgr wrote is replaced, and a missing one created.
func TestWriteFileReplacesItsOwnFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "upstream.conf")
	if err := CheckFile(path); err != nil {
		t.Fatalf("CheckFile of a missing file: %v", err)
	}
	for _, port := range []int{8001, 8002} {
		if err := (Upstream{Name: "app", Ports: []int{port}}).WriteFile(path); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		if want := fmt.Sprintf("server 127.0.0.1:%d max_fails=0;", port); !strings.Contains(string(b), want) || !strings.HasPrefix(string(b), Header+"\n") {
			t.Errorf("after writing port %d:\n%s", port, b)
		}
	}
}

// snapshot describes what is at path: its type and, for a file, its
// content; for a link, its target.
func snapshot(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		return "absent"
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, _ := os.Readlink(path)
		return "link to " + target
	case fi.Mode().IsRegular():
		b, _ := os.ReadFile(path)
		return "file " + string(b)
	}
	return fi.Mode().String()
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}
