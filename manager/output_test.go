package manager

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/internal/testnet"
	"github.com/hellomgr/hellomgr/logs"
)

const waitLimit = 10 * time.Second

var discard = slog.New(slog.DiscardHandler)

// waitFor polls cond until it holds, failing the test after waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testnet.WaitFor(t, what, waitLimit, cond)
}

// lockedBuffer collects what a logger writes from several goroutines.
type lockedBuffer = testnet.LockedBuffer

func mustOpenLog(t *testing.T, cfg config.Logs, port int, sinks []logs.Sink, log *slog.Logger) *logs.Log {
	t.Helper()
	l, err := openLog(cfg, port, sinks, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// write hands l a pipe, writes text into it as a process would, and
// waits until the log has taken all of it.
func write(t *testing.T, l *logs.Log, text string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done, _ := l.Take(r, 4242)
	if _, err := w.WriteString(text); err != nil {
		t.Fatal(err)
	}
	w.Close()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("the log did not take the pipe to its end")
	}
}

// TestLogRotationStaysInATrustedFolder: every file a port's log opens,
// rotation included, goes through the trust checks. While the folder is
// writable by others, rotation refuses to start a new file (and says so):
// the current one grows past max_size and no line is lost; once fixed,
// rotation goes on.
func TestLogRotationStaysInATrustedFolder(t *testing.T) {
	dir := filepath.Join(shortDir(t), "logs")
	if err := checkLogDir(dir); err != nil {
		t.Fatal(err)
	}
	var logged lockedBuffer
	l := mustOpenLog(t, config.Logs{Dir: dir, MaxSizeMB: 1, MaxFiles: 5}, 8001, nil, slog.New(slog.NewTextHandler(&logged, nil)))
	line := strings.Repeat("x", 1023) + "\n"
	os.Chmod(dir, 0o777)
	write(t, l, strings.Repeat(line, 1536)) // 1.5 MiB
	if old, _ := logs.Backups(dir, 8001); len(old) != 0 {
		t.Errorf("rotated into a folder others can write: %v", old)
	}
	if fi, err := os.Stat(logs.File(dir, 8001)); err != nil || fi.Size() != 1536*1024 {
		t.Errorf("log: %v bytes, %v; want all 1536 lines in it", fi.Size(), err)
	}
	if !strings.Contains(logged.String(), "writable by users other than its owner") {
		t.Errorf("the refused rotation was not logged:\n%s", logged.String())
	}
	os.Chmod(dir, 0o755)
	time.Sleep(1100 * time.Millisecond) // rotation is tried again a second later
	write(t, l, line)
	if old, _ := logs.Backups(dir, 8001); len(old) != 1 {
		t.Errorf("after the fix: %d rotated files, want 1", len(old))
	}
}

// TestLogEchoesToTheConsole: with a console, every line also goes to it,
// prefixed with the port; the file gets the same lines.
func TestLogEchoesToTheConsole(t *testing.T) {
	dir := t.TempDir()
	var out lockedBuffer
	l := mustOpenLog(t, config.Logs{Dir: dir, MaxSizeMB: 1, MaxFiles: 1}, 8001, []logs.Sink{logs.NewConsole(&out)}, discard)
	write(t, l, "one\ntwo\nno newline")
	waitFor(t, "the console echo", func() bool { return out.String() == "8001 | one\n8001 | two\n8001 | no newline\n" })
	if b, _ := os.ReadFile(logs.File(dir, 8001)); string(b) != "one\ntwo\nno newline" {
		t.Errorf("file: got %q", b)
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
