package manager

import (
	"io"
	"net"
	"testing"
	"time"
)

// The listener holds at most its limit of connections; one more is closed
// at once, and closing a held one (twice, even) frees exactly one slot.
func TestLimitListenerClosesConnectionsBeyondItsLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	limited := newLimitListener(ln, 2)
	defer limited.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := limited.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	held := func(what string) net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: not accepted within 5s", what)
			return nil
		}
	}
	refused := func(what string, c net.Conn) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("%s: read got %v, want EOF (closed by the listener)", what, err)
		}
	}
	dial()
	first := held("connection 1")
	dial()
	held("connection 2")
	refused("connection 3, beyond the limit of 2", dial())
	first.Close()
	first.Close()
	dial()
	held("connection 4, after one was closed")
	refused("connection 5, beyond the limit again", dial())
}
