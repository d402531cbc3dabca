package cmd

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeLogs writes each file of files (name: content) into dir; a content
// of "big" is a sparse file just past managerLogMax.
func writeLogs(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if text == "big" {
			if err := os.Truncate(path, managerLogMax+1); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// readLogs returns what each hellomgr.log* file in dir holds ("big" for
// one past managerLogMax), and "link" for a symbolic link.
func readLogs(t *testing.T, dir string) map[string]string {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "hellomgr.log*"))
	got := map[string]string{}
	for _, path := range names {
		fi, err := os.Lstat(path)
		switch {
		case err != nil:
			t.Fatal(err)
		case fi.Mode()&os.ModeSymlink != 0:
			got[filepath.Base(path)] = "link"
		case fi.Size() > managerLogMax:
			got[filepath.Base(path)] = "big"
		default:
			b, _ := os.ReadFile(path)
			got[filepath.Base(path)] = string(b)
		}
	}
	return got
}

func TestManagerLogRotation(t *testing.T) {
	for _, tc := range []struct {
		name        string
		before, now map[string]string
	}{
		{"small: left alone",
			map[string]string{"hellomgr.log": "log", "hellomgr.log.1": "1"},
			map[string]string{"hellomgr.log": "log", "hellomgr.log.1": "1"}},
		{"big: renamed aside, three kept",
			map[string]string{"hellomgr.log": "big", "hellomgr.log.1": "1", "hellomgr.log.2": "2", "hellomgr.log.3": "3"},
			map[string]string{"hellomgr.log.1": "big", "hellomgr.log.2": "1", "hellomgr.log.3": "2"}},
		{"big, first time",
			map[string]string{"hellomgr.log": "big"},
			map[string]string{"hellomgr.log.1": "big"}},
		{"big, with a gap",
			map[string]string{"hellomgr.log": "big", "hellomgr.log.2": "2"},
			map[string]string{"hellomgr.log.1": "big", "hellomgr.log.3": "2"}},
	} {
		dir := t.TempDir()
		writeLogs(t, dir, tc.before)
		rotateManagerLog(filepath.Join(dir, "hellomgr.log"))
		if got := readLogs(t, dir); !maps.Equal(got, tc.now) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.now)
		}
	}
}

// A symbolic link among the names is never renamed, deleted or followed.
func TestManagerLogRotationLeavesLinksAlone(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere")
	writeLogs(t, dir, map[string]string{"hellomgr.log": "big", "hellomgr.log.1": "1"})
	if err := os.WriteFile(target, []byte("not ours"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "hellomgr.log.3")); err != nil {
		t.Fatal(err)
	}
	rotateManagerLog(filepath.Join(dir, "hellomgr.log"))
	want := map[string]string{"hellomgr.log": "big", "hellomgr.log.1": "1", "hellomgr.log.3": "link"}
	if got := readLogs(t, dir); !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if b, _ := os.ReadFile(target); string(b) != "not ours" {
		t.Errorf("the link's target now holds %q", b)
	}
}

// `up -d` rotates the manager log it is about to append to.
func TestUpDetachedRotatesABigManagerLog(t *testing.T) {
	e := newEnv(t, 1, "")
	state := filepath.Join(e.dir, ".hellomgr")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	writeLogs(t, state, map[string]string{"hellomgr.log": "big"})
	e.mustRun("up", "-d")
	got := readLogs(t, state)
	if got["hellomgr.log.1"] != "big" || got["hellomgr.log"] == "big" || !strings.Contains(got["hellomgr.log"], "ready") {
		t.Errorf("after up -d: hellomgr.log.1 %.20q, hellomgr.log %.200q; want the old log as .1 and a new one", got["hellomgr.log.1"], got["hellomgr.log"])
	}
}
