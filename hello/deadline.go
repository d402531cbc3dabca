package hello

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// lazyListener wraps each TCP connection it accepts in a lazyConn.
type lazyListener struct{ net.Listener }

func (l lazyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		return &lazyConn{TCPConn: tc, ahead: readHeaderTimeout}, nil
	}
	return c, err
}

// lazyConn keeps the read deadlines net/http asks for without moving the
// socket's deadline each time, which is what made the server's timeouts
// cost: net/http sets a read deadline six times per keep-alive request
// (idle, header, whole request, and around the background read that
// watches for the client going away), and each non-zero one resets a
// runtime timer, about a third of a microsecond, some 5% of a request.
//
// The socket's deadline ("armed") is never later than the one asked for
// ("want"), so a read still times out when it should; it may be earlier,
// and then a read that times out while the deadline asked for has not
// passed arms that deadline (at most ahead from now) and reads again. A
// deadline asked for that comes before the armed one is armed at once,
// which keeps net/http's way of interrupting a read (a deadline in the
// past) immediate. In steady keep-alive traffic the armed deadline is the
// header deadline of an earlier request, so the socket's timer moves once
// per request at most, where it moved three times, and an idle connection
// wakes once every ahead (readHeaderTimeout) until its idle timeout.
//
// Write deadlines are passed through, but a zero one when none is set
// (net/http clears it after every response) costs nothing.
type lazyConn struct {
	*net.TCPConn
	ahead time.Duration // how far ahead of now a deadline is armed at most

	mu       sync.Mutex
	want     time.Time // the read deadline asked for; zero: none
	armed    time.Time // the socket's read deadline; zero: none
	writeSet bool      // the socket has a write deadline
}

func (c *lazyConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.want = t
	switch {
	case !t.IsZero() && (c.armed.IsZero() || t.Before(c.armed)):
		return c.armLocked(t) // comes first: at once
	case !c.armed.IsZero() && c.armed.Before(longAgo):
		// net/http's interrupt is still armed: arm the next deadline now,
		// rather than let the next read fail first. (Any other deadline
		// gone by is found by the read that fails; telling it here would
		// take a clock read per call, which costs as much as what is
		// saved.)
		return c.armLocked(c.nextLocked(time.Now()))
	}
	return nil
}

// longAgo tells the deadline net/http sets to interrupt a read (the Unix
// time 1) from real ones, without reading the clock.
var longAgo = time.Unix(1e9, 0)

func (c *lazyConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.IsZero() && !c.writeSet {
		return nil
	}
	c.writeSet = !t.IsZero()
	return c.TCPConn.SetWriteDeadline(t)
}

func (c *lazyConn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// Read reads as net.Conn's Read does, with the read deadline asked for.
func (c *lazyConn) Read(p []byte) (int, error) {
	for {
		n, err := c.TCPConn.Read(p)
		if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) || !c.rearm() {
			return n, err
		}
	}
}

// rearm is called when the armed deadline has passed: if the one asked
// for has not, it arms it, at most ahead from now, and reports true.
func (c *lazyConn) rearm() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if !c.want.IsZero() && !now.Before(c.want) {
		return false
	}
	return c.armLocked(c.nextLocked(now)) == nil
}

// nextLocked is the deadline to arm: the one asked for, or ahead from now
// if that is sooner or none is asked for.
func (c *lazyConn) nextLocked(now time.Time) time.Time {
	t := now.Add(c.ahead)
	if !c.want.IsZero() && c.want.Before(t) {
		t = c.want
	}
	return t
}

func (c *lazyConn) armLocked(t time.Time) error {
	c.armed = t
	return c.TCPConn.SetReadDeadline(t)
}
