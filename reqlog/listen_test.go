package reqlog

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Datagrams sent to the socket are counted, the unparsable ones too, and
// the socket is gone once Serve ends.
func TestListenerCounts(t *testing.T) {
	dir, err := os.MkdirTemp("", "rl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "s", "requests.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o622 {
		t.Fatalf("socket %s: %v, %v; want mode 0622 for nginx's workers", path, fi.Mode(), err)
	}
	c := NewCounts()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx, c) }()
	w, err := net.Dial("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for i := range n {
		w.Write(line("1", itoa(i+1), "127.0.0.1:8001", "200", "0.002", "GET"))
	}
	w.Write([]byte("garbage"))
	w.Close()
	deadline := time.Now().Add(20 * time.Second)
	for c.Stats().Counted+c.Stats().Unparsable < n+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := c.Stats(); s.Counted != n || s.Unparsable != 1 || s.Lost != 0 || c.Tally(8001).Requests != n {
		t.Errorf("stats %+v, port 8001 %d requests; want %d counted, 1 unparsable, 0 lost", s, c.Tally(8001).Requests, n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v, want nil once ctx ends", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket still there after Serve ended: %v", err)
	}
}

// A folder that others can write to is refused: the socket is under /tmp.
func TestListenRefusesOpenFolder(t *testing.T) {
	dir, err := os.MkdirTemp("", "rl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o777)
	if _, err := Listen(filepath.Join(dir, "requests.sock")); err == nil {
		t.Fatal("Listen in a folder writable by all: no error")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
