package logs

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPrinterTailThenFollow: the last lines of each port in turn, each
// prefixed; a port without a log is reported, not an error; Follow then
// prints only what was written after Tail, a port's lines in order.
func TestPrinterTailThenFollow(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(File(dir, 8001), []byte(lines("a", 1, 5)), 0o644)
	out := new(strings.Builder)
	p := NewPrinter(out, dir, []int{8001, 8002}, true)
	var missing []int
	if err := p.Tail(2, func(port int) { missing = append(missing, port) }); err != nil {
		t.Fatalf("Tail: %v", err)
	}
	appendTo(t, File(dir, 8001), lines("a", 6, 6))
	appendTo(t, File(dir, 8002), lines("b", 1, 1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // one pass, then return
	if err := p.Follow(ctx); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	want := "8001 | a4\n8001 | a5\n8001 | a6\n8002 | b1\n"
	if out.String() != want || !slices.Equal(missing, []int{8002}) {
		t.Errorf("got %q, missing %v; want %q, missing [8002]", out.String(), missing, want)
	}
}

// TestPrinterUnprefixed: one port asked for by name prints bare lines,
// and without a missing callback a port without a log is silent.
func TestPrinterUnprefixed(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(File(dir, 8001), []byte(lines("a", 1, 3)), 0o644)
	out := new(strings.Builder)
	p := NewPrinter(out, dir, []int{8001, 8002}, false)
	if err := p.Tail(1, nil); err != nil {
		t.Fatalf("Tail: %v", err)
	}
	p.Close()
	if out.String() != "a3\n" {
		t.Errorf("got %q, want %q", out.String(), "a3\n")
	}
}

// TestDirWatchWakesOnAWriteInTheFolder: Follow looks again when a log
// file is appended to, created, or renamed into the folder, not only at
// its next poll.
func TestDirWatchWakesOnAWriteInTheFolder(t *testing.T) {
	dir := t.TempDir()
	w := watchDir(dir)
	if w == nil {
		t.Fatal("no inotify watch on a temp folder")
	}
	defer w.close()
	for _, step := range []struct {
		what string
		do   func() error
	}{
		{"create", func() error { return os.WriteFile(File(dir, 8001), nil, 0o644) }},
		{"append", func() error { appendTo(t, File(dir, 8001), "x\n"); return nil }},
		{"rename", func() error { return os.Rename(File(dir, 8001), File(dir, 8002)) }},
	} {
		drain(w)
		if err := step.do(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-w.C():
		case <-time.After(waitLimit):
			t.Fatalf("%s: no wake from the folder's watch", step.what)
		}
	}
}

// drain takes a pending wake, if any.
func drain(w *dirWatch) {
	select {
	case <-w.C():
	default:
	}
}
