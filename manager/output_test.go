package manager

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/config"
)

const waitLimit = 10 * time.Second

var discard = slog.New(slog.DiscardHandler)

// waitFor polls cond until it holds, failing the test after waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitLimit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lockedBuffer collects what a logger writes from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func mustOpenLog(t *testing.T, cfg config.Logs, port int, log *slog.Logger) io.WriteCloser {
	t.Helper()
	w, err := openLog(cfg, port, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// TestLogRotation writes five megabytes into a log limited to 1 MB and 2
// old files: the current file stays under the limit, and only the two
// newest old files remain, each with the current file's mode.
func TestLogRotation(t *testing.T) {
	dir := t.TempDir()
	w := mustOpenLog(t, config.Logs{Dir: dir, MaxSizeMB: 1, MaxFiles: 2}, 8001, discard)
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for round := range 5 {
		for range 1024 {
			w.Write(line)
		}
		// lumberjack stamps old files to the millisecond: two rotations
		// within one would give the second the first one's name.
		time.Sleep(2 * time.Millisecond)
		if round == 0 {
			if fi, err := os.Stat(LogFile(dir, 8001)); err != nil || fi.Size() != 1<<20 {
				t.Fatalf("after 1 MB: got %v, %v; want one full file", fi.Size(), err)
			}
		}
	}
	var old []string
	waitFor(t, "old files to be pruned to 2", func() bool {
		old, _ = LogBackups(dir, 8001)
		return len(old) == 2
	})
	for _, f := range append(old, LogFile(dir, 8001)) {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 1<<20 {
			t.Errorf("%s: %d bytes, more than max_size 1 MB", f, fi.Size())
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", f, fi.Mode().Perm())
		}
	}
}

// TestLogWriteNeverFails checks that a log that cannot be written loses
// the output and says so once, without failing the write (which would
// stop the copy from the instance's pipe), and says when it recovers.
func TestLogWriteNeverFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var logged lockedBuffer
	w := mustOpenLog(t, config.Logs{Dir: dir, MaxSizeMB: 1, MaxFiles: 1}, 8001, slog.New(slog.NewTextHandler(&logged, nil)))
	// A regular file where the folder was: not writable, even as root.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if n, err := w.Write([]byte("lost\n")); n != 5 || err != nil {
			t.Fatalf("Write to an unwritable log: got %d, %v; want 5, nil", n, err)
		}
	}
	if got := strings.Count(logged.String(), "cannot write instance output"); got != 1 {
		t.Errorf("got %d warnings, want 1:\n%s", got, logged.String())
	}
	os.Remove(dir)
	os.Mkdir(dir, 0o755)
	w.Write([]byte("kept\n"))
	if got, _ := os.ReadFile(LogFile(dir, 8001)); string(got) != "kept\n" {
		t.Errorf("log after recovery: got %q, want %q", got, "kept\n")
	}
	if !strings.Contains(logged.String(), "reaches its log again") {
		t.Errorf("recovery not logged:\n%s", logged.String())
	}
}

// TestLogClosed checks that a write after Close does not create the file
// again, and that Close is safe to call twice.
func TestLogClosed(t *testing.T) {
	dir := t.TempDir()
	w := mustOpenLog(t, config.Logs{Dir: dir, MaxSizeMB: 1, MaxFiles: 1}, 8001, discard)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(LogFile(dir, 8001))
	w.Write([]byte("late\n"))
	if _, err := os.Stat(LogFile(dir, 8001)); err == nil {
		t.Error("a write after Close created the log file again")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestLogBackupsIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{
		"8001-2024-05-01T10-00-00.000.log", "8001-2023-12-31T23-59-59.999.log", "8001.log",
		"8001-notes.log", "80010-2024-05-01T10-00-00.000.log", "8002-2024-05-01T10-00-00.000.log",
	} {
		os.WriteFile(filepath.Join(dir, name), nil, 0o644)
	}
	got, err := LogBackups(dir, 8001)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(dir, "8001-2023-12-31T23-59-59.999.log"),
		filepath.Join(dir, "8001-2024-05-01T10-00-00.000.log"),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestCheckLogDir checks that a log folder that cannot be written, even by
// root, is refused with an error that names it.
func TestCheckLogDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	for _, dir := range []string{filepath.Join(file, "logs"), "/proc", "/proc/hellomgr-logs"} {
		err := checkLogDir(dir)
		if err == nil || !strings.Contains(err.Error(), "log folder "+dir) {
			t.Errorf("checkLogDir(%s): got %v, want an error naming the folder", dir, err)
		}
	}
	ok := filepath.Join(t.TempDir(), "a", "logs")
	if err := checkLogDir(ok); err != nil {
		t.Fatalf("checkLogDir(%s): %v", ok, err)
	}
	if left, _ := os.ReadDir(ok); len(left) != 0 {
		t.Errorf("checkLogDir left %d files in %s", len(left), ok)
	}
}

func TestConsolePrefixesWholeLines(t *testing.T) {
	var out bytes.Buffer
	c := &console{out: &out}
	a, b := c.writer(8001), c.writer(8002)
	a.Write([]byte("hel"))
	b.Write([]byte("one\ntw"))
	a.Write([]byte("lo\n"))
	b.Write([]byte("o\n"))
	want := "8002 | one\n8001 | hello\n8002 | two\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
