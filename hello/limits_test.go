package hello

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestServerLimits(t *testing.T) {
	s := newServer(Options{}.withDefaults())
	// The sweeper keeps the timeouts: net/http would move a deadline, and
	// its timer, on every request.
	if hs := s.http; hs.ReadHeaderTimeout != 0 || hs.ReadTimeout != 0 || hs.WriteTimeout != 0 || hs.IdleTimeout != 0 {
		t.Errorf("http.Server timeouts %v %v %v %v, want none", hs.ReadHeaderTimeout, hs.ReadTimeout, hs.WriteTimeout, hs.IdleTimeout)
	}
	l := s.opts.limits
	if l.header <= 0 || l.header > 10*time.Second {
		t.Errorf("header limit %v, want a few seconds", l.header)
	}
	// The whole request within the header's time: no route takes a body.
	if l.read != l.header {
		t.Errorf("read limit %v, want the header's %v", l.read, l.header)
	}
	// nginx's upstream keepalive_timeout is 60s by default; nginx must be
	// the one to close idle connections.
	if l.idle <= 60*time.Second {
		t.Errorf("idle limit %v, want more than nginx's 60s", l.idle)
	}
	if got := l.sweepInterval(); got != time.Second {
		t.Errorf("sweep interval %v, want 1s", got)
	}
	if s.http.MaxHeaderBytes != 64<<10 {
		t.Errorf("MaxHeaderBytes %d, want %d", s.http.MaxHeaderBytes, 64<<10)
	}
}

func TestOversizedHeaders(t *testing.T) {
	in := start(t, Options{})
	for _, tt := range []struct {
		size int
		code int
	}{
		{60 << 10, 200},
		{100 << 10, 431},
	} {
		req, _ := http.NewRequest("GET", in.url+"/", nil)
		req.Header.Set("X-Big", strings.Repeat("a", tt.size))
		resp, err := newClient(t).Do(req)
		if err != nil {
			t.Fatalf("header of %d bytes: %v", tt.size, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("header of %d bytes: got %d, want %d", tt.size, resp.StatusCode, tt.code)
		}
	}
}

// TestSlowloris checks that a client sending half a header line and
// stalling neither blocks other requests nor keeps its connection: the
// sweeper cuts it once past the header limit (shortened here).
func TestSlowloris(t *testing.T) {
	in := start(t, Options{limits: limits{header: 500 * time.Millisecond}})
	slow, err := net.Dial("tcp", strings.TrimPrefix(in.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := io.WriteString(slow, "GET / HTTP/1.1\r\nHost: loc"); err != nil {
		t.Fatal(err)
	}

	if code, body := get(t, newClient(t), in.url+"/"); code != 200 || body != DefaultMessage {
		t.Errorf("GET / beside a slow client: got %d %q, want 200 %q", code, body, DefaultMessage)
	}

	slow.SetReadDeadline(time.Now().Add(waitLimit))
	_, err = io.ReadAll(slow)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("slow client still connected after %v", waitLimit)
	}
}

// TestIdleFlood checks that a crowd of connections that never send a byte
// does not stop a normal request from being answered.
func TestIdleFlood(t *testing.T) {
	in := start(t, Options{})
	addr := strings.TrimPrefix(in.url, "http://")
	for range 200 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() }) // before the server stops
	}
	if code, body := get(t, newClient(t), in.url+"/"); code != 200 || body != DefaultMessage {
		t.Errorf("GET / beside 200 idle connections: got %d %q, want 200 %q", code, body, DefaultMessage)
	}
}

// TestSlowBody checks that a client that announces a body and stalls
// halfway loses its connection after the read limit (shortened here), though
// it was answered: no route reads a body, and net/http's attempt to
// discard it is bounded too.
func TestSlowBody(t *testing.T) {
	in := start(t, Options{limits: limits{header: 500 * time.Millisecond, read: 500 * time.Millisecond}})
	slow, err := net.Dial("tcp", strings.TrimPrefix(in.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := io.WriteString(slow, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc"); err != nil {
		t.Fatal(err)
	}
	slow.SetReadDeadline(time.Now().Add(waitLimit))
	answer, err := io.ReadAll(slow)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("client stalled mid-body still connected after %v", waitLimit)
	}
	if !strings.HasPrefix(string(answer), "HTTP/1.1 405 ") {
		t.Errorf("client stalled mid-body: got %q, want a 405 first", answer)
	}
}

// TestSlowlorisKeepAlive checks the header limit of a second request on a
// keep-alive connection: the client is answered once, then sends half a
// header line and stalls, and is cut, though the idle limit is long.
func TestSlowlorisKeepAlive(t *testing.T) {
	in := start(t, Options{limits: limits{header: 300 * time.Millisecond, idle: time.Hour}})
	slow, err := net.Dial("tcp", strings.TrimPrefix(in.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.SetReadDeadline(time.Now().Add(waitLimit))
	if _, err := io.WriteString(slow, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	answer := make([]byte, 4096)
	n, err := slow.Read(answer)
	if err != nil || !strings.HasPrefix(string(answer[:n]), "HTTP/1.1 200 ") {
		t.Fatalf("first request: got %q, %v; want a 200", answer[:n], err)
	}
	if _, err := io.WriteString(slow, "GET / HTTP/1.1\r\nHost: lo"); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(slow); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("client stalled in its second request still connected after %v (read %q)", waitLimit, rest)
	}
}

// TestIdleLimit checks that a keep-alive connection left idle is closed
// once past the idle limit (shortened here).
func TestIdleLimit(t *testing.T) {
	in := start(t, Options{limits: limits{idle: 300 * time.Millisecond}})
	c, err := net.Dial("tcp", strings.TrimPrefix(in.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(waitLimit))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	answer, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("idle connection still open after %v", waitLimit)
	}
	if !strings.HasPrefix(string(answer), "HTTP/1.1 200 ") {
		t.Errorf("got %q, want a 200 before the close", answer)
	}
}

// TestExpiredNeverEarly checks the sweeper's arithmetic: a connection is
// expired only once every moment of the sweep it was stamped with is
// further back than its limit, with one sweep to spare, and at the sweep
// after that.
func TestExpiredNeverEarly(t *testing.T) {
	for _, tc := range []struct {
		limit, interval time.Duration
		kept            uint64 // the most sweeps after its stamp at which it is kept
	}{
		{5 * time.Second, time.Second, 6},
		{75 * time.Second, time.Second, 76},
		{500 * time.Millisecond, 125 * time.Millisecond, 5},
		{300 * time.Millisecond, 75 * time.Millisecond, 5},
		{1500 * time.Millisecond, time.Second, 3},
	} {
		var sweeps atomic.Uint64
		sweeps.Store(10)
		c := &trackedConn{sweeps: &sweeps}
		c.enter(phaseIdle)
		l := limits{idle: tc.limit}
		// At sweep 10+k the phase is more than k-1 sweeps old: at the
		// first sweep it is expired, kept+1, that must be the limit and
		// a sweep.
		if time.Duration(tc.kept)*tc.interval < tc.limit+tc.interval {
			t.Fatalf("limit %v, sweeps of %v: %d sweeps kept is too few", tc.limit, tc.interval, tc.kept)
		}
		if c.expired(10+tc.kept, l, tc.interval) {
			t.Errorf("limit %v, sweeps of %v: expired %d sweeps after its stamp, want kept", tc.limit, tc.interval, tc.kept)
		}
		if !c.expired(10+tc.kept+1, l, tc.interval) {
			t.Errorf("limit %v, sweeps of %v: kept %d sweeps after its stamp, want expired", tc.limit, tc.interval, tc.kept+1)
		}
	}
}
