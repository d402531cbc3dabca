package nginx

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUpstreamMarksDownPortsAndKeepsAlive(t *testing.T) {
	text := string(Upstream{Name: "app", Ports: []int{8001, 8002}, Down: map[int]bool{8002: true}}.Render())
	for _, want := range []string{"upstream app {", "server 127.0.0.1:8001 max_fails=0;", "server 127.0.0.1:8002 max_fails=0 down;", "keepalive 32;", "map $http_upgrade $connection_upgrade {"} {
		if !strings.Contains(text, want) {
			t.Errorf("upstream block lacks %q:\n%s", want, text)
		}
	}
}

func TestWriteFileReplacesTheFileWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "upstream.conf")
	os.WriteFile(path, []byte(Header+"\nold"), 0o600)
	if err := (Upstream{Name: "app", Ports: []int{8001}}).WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if !strings.HasPrefix(string(b), "# Written by hellomgr") || fi.Mode().Perm() != 0o644 {
		t.Fatalf("upstream file (mode %o):\n%s", fi.Mode().Perm(), b)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".upstream-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestReloadErrorNamesTheCommandAndItsOutput(t *testing.T) {
	err := Reload(context.Background(), []string{"sh", "-c", "echo nginx is not running >&2; exit 1"})
	if err == nil || !strings.Contains(err.Error(), `"sh -c`) || !strings.Contains(err.Error(), "nginx is not running") {
		t.Fatalf("Reload error %v, want the command and what it said", err)
	}
}
