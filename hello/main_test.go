package hello

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitLimit bounds every wait in these tests. It is a deadline against a
// hung test, never a measure of speed.
const waitLimit = 10 * time.Second

// helperVar names the helper that the test binary runs instead of the
// tests, when it is re-executed as a child.
const helperVar = "HELLO_TEST_HELPER"

var helpers = map[string]func() int{
	"serve": serveHelper,
}

func TestMain(m *testing.M) {
	if name := os.Getenv(helperVar); name != "" {
		helper, ok := helpers[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown helper %q\n", name)
			os.Exit(2)
		}
		os.Exit(helper())
	}
	os.Exit(m.Run())
}

// serveHelper plays `hellomgr serve`: it runs Run until SIGTERM, logging to
// stderr, then reports what is left of the LISTEN_* environment.
func serveHelper() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	err := Run(ctx, Options{Message: os.Getenv("HELLO_TEST_MESSAGE"), Metrics: true, Log: os.Stderr})
	fmt.Fprintf(os.Stderr, "env after: LISTEN_FDS=%q LISTEN_PID=%q\n", os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_PID"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 1
	}
	return 0
}

// logSink collects log lines and lets a test wait for one.
type logSink struct {
	mu      sync.Mutex
	partial string
	lines   []string
	changed chan struct{} // closed and replaced whenever a line is added
}

func newLogSink() *logSink { return &logSink{changed: make(chan struct{})} }

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial += string(p)
	for {
		i := strings.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, l.partial[:i])
		l.partial = l.partial[i+1:]
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

// find returns the first line containing substr, and a channel closed
// when the next line arrives.
func (l *logSink) find(substr string) (string, bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, substr) {
			return line, true, nil
		}
	}
	return "", false, l.changed
}

// wait returns the first line containing substr, waiting up to waitLimit.
func (l *logSink) wait(t *testing.T, substr string) string {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		line, ok, changed := l.find(substr)
		if ok {
			return line
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no log line with %q after %v; log:\n%s", substr, waitLimit, l)
		}
	}
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n") + l.partial
}

// instance is a Run in a goroutine of the test.
type instance struct {
	url    string
	logs   *logSink
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned
	err    error         // what Run returned, once done is closed
	limit  time.Duration // how long Run may take to return once cancelled
}

// start runs Run with opts on a new listener on 127.0.0.1:0 and waits
// until it is serving. The instance is stopped at the end of the test.
func start(t *testing.T, opts Options) *instance {
	t.Helper()
	return startOn(t, listen(t), opts)
}

// startOn is start on a given listener.
func startOn(t *testing.T, ln net.Listener, opts Options) *instance {
	t.Helper()
	in := &instance{
		url:   "http://" + ln.Addr().String(),
		logs:  newLogSink(),
		done:  make(chan struct{}),
		limit: opts.withDefaults().StopTimeout + waitLimit,
	}
	opts.Listener, opts.Log = ln, in.logs
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go func() {
		in.err = Run(ctx, opts)
		close(in.done)
	}()
	t.Cleanup(func() {
		if err := in.stop(t); err != nil {
			t.Errorf("%s: Run returned %v", in.url, err)
		}
	})
	in.logs.wait(t, "listening on")
	return in
}

// stop cancels Run and returns what it returned; it is safe to call twice.
func (in *instance) stop(t *testing.T) error {
	t.Helper()
	in.cancel()
	return in.wait(t)
}

// wait waits for Run to return, and returns what it returned.
func (in *instance) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-in.done:
		return in.err
	case <-time.After(in.limit):
		t.Fatalf("%s: Run did not return within %v; log:\n%s", in.url, in.limit, in.logs)
		return nil
	}
}

// returned reports whether Run has returned, without waiting.
func (in *instance) returned() bool {
	select {
	case <-in.done:
		return true
	default:
		return false
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// newClient returns a client that keeps at most one connection open, as
// one nginx upstream keep-alive connection would.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: waitLimit}
}

// get sends a GET and returns the status code and body.
func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// waitFor waits up to waitLimit for ch to be closed or to receive.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("%s: not within %v", what, waitLimit)
		var zero T
		return zero
	}
}
