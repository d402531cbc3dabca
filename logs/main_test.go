package logs

import (
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testchild"
	"github.com/hellomgr/hellomgr/internal/testnet"
)

func TestMain(m *testing.M) {
	testchild.Main()
	os.Exit(m.Run())
}

const waitLimit = 30 * time.Second

// waitFor polls cond until it holds, failing the test after waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testnet.WaitFor(t, what, waitLimit, cond)
}

// lockedBuffer collects what a logger writes from several goroutines.
type lockedBuffer = testnet.LockedBuffer

func logger(b *lockedBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

func mustOpen(t *testing.T, port int, o Options) *Log {
	t.Helper()
	l, err := Open(port, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// feed hands l a pipe and returns its write end, and the channel Take
// closes once it has read the pipe to its end.
func feed(t *testing.T, l *Log) (*os.File, <-chan struct{}) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	done, _ := l.Take(r, 4242)
	return w, done
}

// write writes text through a new pipe and waits until l took it all.
func write(t *testing.T, l *Log, text string) {
	t.Helper()
	w, done := feed(t, l)
	if _, err := w.WriteString(text); err != nil {
		t.Fatal(err)
	}
	w.Close()
	wait(t, done)
}

func wait(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("the log did not read its pipe to the end")
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lines is "<tag><n>\n" for n in from..to.
func lines(tag string, from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		b.WriteString(tag)
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('\n')
	}
	return b.String()
}
