package cmd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// logEnv is a config with two ports and log files written by the test,
// with no manager: `logs` reads files only.
type logEnv struct {
	*env
	a, b int
}

func newLogEnv(t *testing.T) *logEnv {
	e := newEnv(t, 2, "")
	if err := os.MkdirAll(filepath.Join(e.dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &logEnv{env: e, a: min(e.ports[0], e.ports[1]), b: max(e.ports[0], e.ports[1])}
}

// numbered returns lines "<tag>1" to "<tag>n", each ended.
func numbered(tag string, from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%s%d\n", tag, i)
	}
	return b.String()
}

func (e *logEnv) writeLog(name, text string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, "logs", name), []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *logEnv) appendLog(port int, text string) {
	e.t.Helper()
	f, err := os.OpenFile(filepath.Join(e.dir, "logs", strconv.Itoa(port)+".log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(text)
}

func TestLogsShowsTheLastLinesOfOnePortUnprefixed(t *testing.T) {
	e := newLogEnv(t)
	e.writeLog(fmt.Sprintf("%d.log", e.a), numbered("a", 1, 30))
	if got, want := e.mustRun("logs", strconv.Itoa(e.a)), numbered("a", 11, 30); got != want {
		t.Errorf("logs %d: got\n%s\nwant the last 20 lines:\n%s", e.a, got, want)
	}
	if got, want := e.mustRun("logs", strconv.Itoa(e.a), "-n", "3"), numbered("a", 28, 30); got != want {
		t.Errorf("logs %d -n 3: got %q, want %q", e.a, got, want)
	}
}

func TestLogsOfEveryPortArePrefixed(t *testing.T) {
	e := newLogEnv(t)
	e.writeLog(fmt.Sprintf("%d.log", e.a), numbered("a", 1, 5))
	e.writeLog(fmt.Sprintf("%d.log", e.b), "b1\nb2 without a newline")
	want := fmt.Sprintf("%[1]d | a4\n%[1]d | a5\n%[2]d | b1\n%[2]d | b2 without a newline\n", e.a, e.b)
	if got := e.mustRun("logs", "-n", "2"); got != want {
		t.Errorf("logs -n 2: got\n%s\nwant\n%s", got, want)
	}
}

// TestLogsReachIntoRotatedFiles: just after a rotation the current file
// is short, and the lines asked for come from the newest old files.
func TestLogsReachIntoRotatedFiles(t *testing.T) {
	e := newLogEnv(t)
	e.writeLog(fmt.Sprintf("%d-2024-05-01T10-00-00.000.log", e.a), numbered("a", 1, 10))
	e.writeLog(fmt.Sprintf("%d-2024-05-01T11-00-00.000.log", e.a), numbered("a", 11, 12))
	e.writeLog(fmt.Sprintf("%d.log", e.a), numbered("a", 13, 14))
	if got, want := e.mustRun("logs", strconv.Itoa(e.a), "-n", "6"), numbered("a", 9, 14); got != want {
		t.Errorf("logs -n 6: got %q, want %q", got, want)
	}
}

func TestLogsWithoutAFileSaysSo(t *testing.T) {
	e := newLogEnv(t)
	out, errOut, code := e.run("logs", strconv.Itoa(e.a))
	if code != 0 || out != "" || !strings.Contains(errOut, fmt.Sprintf("port %d has no log yet", e.a)) {
		t.Errorf("logs of a port never started: exit %d, stdout %q, stderr %q; want 0, nothing, a note", code, out, errOut)
	}
}

// TestLogsBadInputIsAUsageError checks exit 2, the error on stderr (with
// the configured ports for a port that is not one), nothing on stdout.
func TestLogsBadInputIsAUsageError(t *testing.T) {
	e := newLogEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "1"}, fmt.Sprintf("port 1 is not in %s (configured: %d, %d)", e.configPath(), e.a, e.b)},
		{[]string{"logs", "eighty"}, "port eighty is not in"},
		{[]string{"logs", "-n", "-1"}, "-n must be 0 or more"},
		{[]string{"logs", "1", "2"}, "accepts at most 1 arg"},
	} {
		out, errOut, code := e.run(tc.args...)
		if code != ExitUsage || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("hellomgr %v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe to read while `logs -f` writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogsFollowAcrossRotation follows every port while lines are
// appended, a line arrives in two writes, and a file is rotated the way
// rotation does it (renamed aside, a new file created).
func TestLogsFollowAcrossRotation(t *testing.T) {
	e := newLogEnv(t)
	e.writeLog(fmt.Sprintf("%d.log", e.a), "old a\n")
	var out syncBuffer
	o := &logsOptions{config: configFlag{path: e.configPath()}, follow: true, lines: 1}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.run(ctx, nil, &out, &out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("logs -f returned %v, want nil", err)
		}
	}()
	pa, pb := fmt.Sprintf("%d | ", e.a), fmt.Sprintf("%d | ", e.b)
	expect := func(lines ...string) {
		t.Helper()
		want := strings.Join(lines, "\n") + "\n"
		testnet.WaitFor(t, fmt.Sprintf("output %q", want), 10*time.Second, func() bool { return out.String() == want })
	}
	expect(pa + "old a")
	e.appendLog(e.b, "b is created later\n")
	e.appendLog(e.a, "half a ")
	expect(pa+"old a", pb+"b is created later")
	e.appendLog(e.a, "line\nlast before rotation")
	old := filepath.Join(e.dir, "logs", strconv.Itoa(e.a)+".log")
	if err := os.Rename(old, filepath.Join(e.dir, "logs", strconv.Itoa(e.a)+"-2024-05-01T10-00-00.000.log")); err != nil {
		t.Fatal(err)
	}
	e.appendLog(e.a, "first after rotation\n")
	expect(pa+"old a", pb+"b is created later", pa+"half a line", pa+"last before rotation", pa+"first after rotation")
}

// TestLogsOfARunningManager reads what real instances wrote through the
// manager's rotating writer.
func TestLogsOfARunningManager(t *testing.T) {
	e := newEnv(t, 2, "")
	e.mustRun("up", "-d")
	defer e.mustRun("down")
	out := e.mustRun("logs")
	for _, port := range e.ports {
		if !strings.Contains(out, fmt.Sprintf("%d | ", port)) || !strings.Contains(out, "listening on") {
			t.Errorf("logs: no line from port %d, or no \"listening on\":\n%s", port, out)
		}
	}
}
