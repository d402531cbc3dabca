package cmd

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hellomgr/hellomgr/internal/cmddocs"
)

// TestDocsAreCurrent regenerates the command reference into a temporary
// folder and compares it with docs/: a command added, removed or changed
// without `go run ./internal/gendocs` fails here.
func TestDocsAreCurrent(t *testing.T) {
	fresh := t.TempDir()
	if err := cmddocs.Write(Root(), fresh); err != nil {
		t.Fatal(err)
	}
	want := pages(t, fresh)
	got := pages(t, filepath.Join("..", "docs"))
	const fix = "run `go run ./internal/gendocs` from the repository root"
	for name, text := range want {
		switch old, ok := got[name]; {
		case !ok:
			t.Errorf("docs/%s is missing: %s", name, fix)
		case old != text:
			t.Errorf("docs/%s is stale: %s", name, fix)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("docs/%s documents a command that no longer exists: %s", name, fix)
		}
	}
}

// pages reads the generated pages in dir, by file name.
func pages(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, cmddocs.Glob))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m[filepath.Base(f)] = string(b)
	}
	return m
}
