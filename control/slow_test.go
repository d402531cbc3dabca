package control

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/bugs"
)

// fakeAPI plays the manager: a reload reports one line per port, as a
// rollout of that many ports does, and counts the lines it got through.
type fakeAPI struct {
	ports    int
	mu       sync.Mutex
	reported int
	done     chan struct{} // closed once a reload has reported every line
	panicOn  string        // the operation that panics ("status", "stop", "reload"), under mu
}

func (f *fakeAPI) panics(op string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.panicOn == op
}

func (f *fakeAPI) Report() Report {
	if f.panics("status") {
		var m map[string]int
		m["boom"]++ // a nil map: the kind of bug a handler meets
	}
	return Report{PID: os.Getpid()}
}

func (f *fakeAPI) ReloadWith(ctx context.Context, opts ReloadOptions, progress Progress) error {
	if f.panics("reload") {
		progress("replacing 1 port")
		var s []int
		_ = s[3]
	}
	for p := range f.ports {
		progress("port %d: replaced pid %d with pid %d, which answers on it (%s)", 10000+p, 2*p, 2*p+1, strings.Repeat("x", 60))
		f.mu.Lock()
		f.reported++
		f.mu.Unlock()
	}
	close(f.done)
	return nil
}

func (f *fakeAPI) Restart(ctx context.Context, ports []int, progress Progress) error { return nil }
func (f *fakeAPI) StopPorts(ctx context.Context, ports []int, progress Progress) error {
	if f.panics("stop") {
		var p *fakeAPI
		_ = p.ports
	}
	return nil
}
func (f *fakeAPI) StartPorts(ctx context.Context, ports []int, progress Progress) error { return nil }
func (f *fakeAPI) Upgrade(ctx context.Context, binary string, progress Progress, handing func(string)) error {
	return nil
}
func (f *fakeAPI) RequestDown() {}

// syncBuffer is a log sink the server writes from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveFake serves api on a fresh control socket until the test ends, and
// returns the socket's path and the server's log.
func serveFake(t *testing.T, api API) (string, *syncBuffer) {
	t.Helper()
	dir, err := os.MkdirTemp("", "hm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, path, Routes(api), slog.New(slog.NewTextHandler(logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		<-served
	})
	return path, logs
}

// dialDeaf connects to the socket with the smallest receive buffer the
// kernel allows, sends request, and never reads: a client that stopped
// reading (a stopped `hellomgr reload | less`, a hung script).
func dialDeaf(t *testing.T, path, request string) net.Conn {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "deaf")
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	return conn
}

// A reload of 1,024 ports asked by a client that never reads its
// progress goes on to its end (it stopped at 145 ports), the server drops
// that client and says so, and the next request is answered.
func TestSlowClientDoesNotHoldTheRollout(t *testing.T) {
	api := &fakeAPI{ports: 1024, done: make(chan struct{})}
	path, logs := serveFake(t, api)
	dialDeaf(t, path, "POST /v1/reload HTTP/1.1\r\nHost: hellomgr\r\nContent-Length: 0\r\n\r\n")
	select {
	case <-api.done:
	case <-time.After(60 * time.Second):
		api.mu.Lock()
		n := api.reported
		api.mu.Unlock()
		t.Fatalf("the rollout is held by a client that does not read: %d of 1024 ports reported", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if _, err := Dial(path).Status(ctx); err != nil {
		t.Fatalf("status after a slow client: %v", err)
	}
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(logs.String(), "dropped a control client"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say the client was dropped; it says:\n%s", logs.String())
		}
	}
	if got := logs.String(); !strings.Contains(got, "POST /v1/reload") {
		t.Errorf("the drop does not name the request:\n%s", got)
	}
}

// A client that reads gets every line, however many.
func TestClientThatReadsGetsEveryLine(t *testing.T) {
	api := &fakeAPI{ports: 5000, done: make(chan struct{})}
	path, _ := serveFake(t, api)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := 0
	if err := Dial(path).ReloadWith(ctx, ReloadOptions{}, func(string) { n++ }); err != nil {
		t.Fatal(err)
	}
	if n != 5000 {
		t.Fatalf("got %d progress lines, want 5000", n)
	}
}

// A panic in a request handler is answered with an error naming it, is
// logged with its stack and counted, and the manager answers on.
func TestPanicInHandlerAnswersAnError(t *testing.T) {
	for _, tc := range []struct{ op, want string }{
		{"status", "500 Internal Server Error: internal error in the manager"},
		{"stop", "internal error in the manager"},
		{"reload", "internal error in the manager"},
	} {
		t.Run(tc.op, func(t *testing.T) {
			api := &fakeAPI{panicOn: tc.op, done: make(chan struct{})}
			path, logs := serveFake(t, api)
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			c := Dial(path)
			before := bugs.Count()
			var err error
			switch tc.op {
			case "status":
				_, err = c.Status(ctx)
			case "stop":
				err = c.Stop(ctx, []int{8001}, nil)
			case "reload":
				err = c.ReloadWith(ctx, ReloadOptions{}, nil)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("%s: got error %v, want one line with %q", tc.op, err, tc.want)
			}
			if got := bugs.Count() - before; got != 1 {
				t.Errorf("%s: internal errors counted %d, want 1", tc.op, got)
			}
			log := logs.String()
			if !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "panic") || !strings.Contains(log, "goroutine") {
				t.Errorf("%s: the panic is not logged as an error with its stack:\n%s", tc.op, log)
			}
			api.mu.Lock()
			api.panicOn = ""
			api.mu.Unlock()
			if _, err := c.Status(ctx); err != nil {
				t.Fatalf("%s: status after the panic: %v", tc.op, err)
			}
		})
	}
}
