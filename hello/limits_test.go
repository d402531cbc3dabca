package hello

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func TestServerLimits(t *testing.T) {
	hs := newServer(Options{}.withDefaults()).http
	if hs.ReadHeaderTimeout <= 0 || hs.ReadHeaderTimeout > 10*time.Second {
		t.Errorf("ReadHeaderTimeout %v, want a few seconds", hs.ReadHeaderTimeout)
	}
	// The whole request within the header's time: no route takes a body,
	// and net/http then moves one read deadline per request, not two.
	if hs.ReadTimeout != hs.ReadHeaderTimeout {
		t.Errorf("ReadTimeout %v, want ReadHeaderTimeout's %v", hs.ReadTimeout, hs.ReadHeaderTimeout)
	}
	// No write deadline to move on every request: every answer fits in
	// the socket's buffer (see the limits in server.go).
	if hs.WriteTimeout != 0 {
		t.Errorf("WriteTimeout %v, want none", hs.WriteTimeout)
	}
	// nginx's upstream keepalive_timeout is 60s by default; nginx must be
	// the one to close idle connections.
	if hs.IdleTimeout <= 60*time.Second {
		t.Errorf("IdleTimeout %v, want more than nginx's 60s", hs.IdleTimeout)
	}
	if hs.MaxHeaderBytes != 64<<10 {
		t.Errorf("MaxHeaderBytes %d, want %d", hs.MaxHeaderBytes, 64<<10)
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
// stalling neither blocks other requests nor keeps its connection for
// longer than ReadHeaderTimeout (shortened here).
func TestSlowloris(t *testing.T) {
	in := start(t, Options{tune: func(s *http.Server) { s.ReadHeaderTimeout = 500 * time.Millisecond }})
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
// halfway loses its connection after ReadTimeout (shortened here), though
// it was answered: no route reads a body, and net/http's attempt to
// discard it is bounded too.
func TestSlowBody(t *testing.T) {
	in := start(t, Options{tune: func(s *http.Server) { s.ReadHeaderTimeout, s.ReadTimeout = 500*time.Millisecond, 500*time.Millisecond }})
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
