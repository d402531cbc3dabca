package hello

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// lazyPair returns a lazyConn arming at most ahead from now, and the
// client end of its connection.
func lazyPair(t *testing.T, ahead time.Duration) (*lazyConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, err := lazyListener{ln}.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	lc := c.(*lazyConn)
	lc.ahead = ahead
	return lc, client
}

// readFor reads from c and returns the error and how long it took.
func readFor(c net.Conn) (time.Duration, error) {
	start := time.Now()
	_, err := c.Read(make([]byte, 10))
	return time.Since(start), err
}

func TestLazyDeadlineTimesOutWhenAsked(t *testing.T) {
	c, _ := lazyPair(t, 30*time.Millisecond) // armed in steps of 30ms
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	took, err := readFor(c)
	if !errors.Is(err, os.ErrDeadlineExceeded) || took < 200*time.Millisecond || took > waitLimit {
		t.Errorf("read with a deadline in 200ms: %v after %v, want a timeout after 200ms", err, took)
	}
}

func TestLazyDeadlineMovedLaterIsKept(t *testing.T) {
	c, _ := lazyPair(t, time.Hour)
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond)) // later: not armed, but kept
	took, err := readFor(c)
	if !errors.Is(err, os.ErrDeadlineExceeded) || took < 300*time.Millisecond {
		t.Errorf("deadline moved from 50ms to 300ms: %v after %v, want a timeout after 300ms", err, took)
	}
	c.SetReadDeadline(time.Time{}) // none: a read waits for data
	go func() {
		time.Sleep(100 * time.Millisecond)
		c.SetReadDeadline(time.Unix(1, 0))
	}()
	if took, err := readFor(c); !errors.Is(err, os.ErrDeadlineExceeded) || took > waitLimit {
		t.Errorf("read interrupted by a deadline in the past: %v after %v", err, took)
	}
}

// TestLazyDeadlineInterrupt plays net/http's background read: a read
// blocks with no deadline, a deadline in the past interrupts it at once,
// and the connection then reads normally.
func TestLazyDeadlineInterrupt(t *testing.T) {
	c, client := lazyPair(t, 50*time.Millisecond)
	c.SetReadDeadline(time.Now().Add(time.Hour))
	c.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, err := readFor(c); done <- err }()
	time.Sleep(150 * time.Millisecond) // the armed 50ms passes: the read goes on
	select {
	case err := <-done:
		t.Fatalf("read with no deadline returned %v", err)
	default:
	}
	c.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("interrupted read: %v, want a timeout", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("read not interrupted by a deadline in the past")
	}
	c.SetReadDeadline(time.Time{})
	c.SetReadDeadline(time.Now().Add(time.Hour))
	client.Write([]byte("GET"))
	buf := make([]byte, 10)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "GET" {
		t.Errorf("read after the interrupt: %q, %v; want %q", buf[:n], err, "GET")
	}
}

func TestLazyWriteDeadline(t *testing.T) {
	c, _ := lazyPair(t, time.Second)
	if err := c.SetWriteDeadline(time.Time{}); err != nil || c.writeSet {
		t.Fatalf("zero write deadline: %v, set %v", err, c.writeSet)
	}
	c.SetWriteDeadline(time.Unix(1, 0))
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write after a deadline in the past: %v, want a timeout", err)
	}
	c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("x")); err != nil {
		t.Errorf("write after clearing the deadlines: %v", err)
	}
}
