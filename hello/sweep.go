package hello

import (
	"context"
	"net"
	"sync/atomic"
	"time"
)

// The server's timeouts are kept without a timer per request.
//
// net/http keeps ReadHeaderTimeout, ReadTimeout and IdleTimeout with the
// socket's read deadline, which it moves three times per keep-alive
// request, reading the clock each time; each non-zero deadline re-arms a
// runtime timer. The server instead gives net/http no timeouts (it then
// only clears deadlines, which costs next to nothing when none is set) and
// keeps them itself: every connection carries its phase and the sweep it
// entered it in, which net/http's ConnState hook and the first bytes read
// between two requests update with one atomic store each, and a sweeper
// goroutine per server wakes every sweepInterval, counts one sweep more
// and sets a read deadline in the past on each connection that has been
// in its phase for longer than the phase allows. That interrupts the read
// it is blocked in, as net/http's own deadline would have: net/http then
// closes the connection (or, for a request body it was discarding, writes
// the answer first and then closes it).
//
// A connection is cut between its limit plus one sweep and its limit plus
// three (a phase's start is known to the sweep only, and a late sweeper is
// allowed for), never before: with the server's limits, a stalled request
// is cut after 6 to 8 s, an idle connection after 76 to 78 s.

// phase is what a connection is doing, for the limit that applies.
type phase uint64

const (
	phaseNew    phase = iota // accepted, reading its first request: limits.header from the accept
	phaseIdle                // between two requests: limits.idle
	phaseHeader              // the next request's first bytes came: limits.header from them
	phaseActive              // a request's header is read: limits.read for its body and its answer
)

// limits are the server's timeouts.
type limits struct {
	header time.Duration // to send a request's line and header
	read   time.Duration // to send its body, once the header is in, and be answered
	idle   time.Duration // between two requests on a keep-alive connection
}

func (l limits) of(p phase) time.Duration {
	switch p {
	case phaseIdle:
		return l.idle
	case phaseActive:
		return l.read
	}
	return l.header
}

// sweepInterval is the sweeper's period: a second, or a quarter of the
// shortest limit when that is less (as tests make them), so that no
// connection outlives its limit by more than three sweeps.
func (l limits) sweepInterval() time.Duration {
	return max(min(time.Second, l.header/4, l.read/4, l.idle/4), time.Millisecond)
}

// trackingListener wraps each TCP connection it accepts in a trackedConn
// of t. Other connections (a Unix socket in tests) are not swept.
type trackingListener struct {
	net.Listener
	t *connTracker
}

func (l trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		return l.t.track(tc), nil
	}
	return c, err
}

// trackedConn is a TCP connection with its phase and the sweep it
// entered it in.
type trackedConn struct {
	*net.TCPConn
	sweeps *atomic.Uint64 // the tracker's count of sweeps
	state  atomic.Uint64  // sweep<<2 | phase
}

func (c *trackedConn) enter(p phase) {
	c.state.Store(c.sweeps.Load()<<2 | uint64(p))
}

// Read reads as net.Conn's Read does; the first bytes read between two
// requests start the next request's header limit.
func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.TCPConn.Read(b)
	if n > 0 && phase(c.state.Load()&3) == phaseIdle {
		c.enter(phaseHeader)
	}
	return n, err
}

// expired reports whether c has been in its phase for longer than l
// allows, at sweep now. A phase stamped with sweep s began before sweep
// s+1 was counted, at worst just before, so it is older than the limit
// for sure once now-s-1 sweeps cover the limit; one sweep more is allowed
// for a sweeper running late (a stamp taken while a sweep is overdue is
// older than the moment it stands for).
func (c *trackedConn) expired(now uint64, l limits, interval time.Duration) bool {
	s := c.state.Load()
	allowed := uint64((l.of(phase(s&3)) + interval - 1) / interval) // sweeps, rounded up
	return now-(s>>2) > allowed+1
}

// interruptRead sets a read deadline in the past: the read c is blocked
// in, or its next one, fails at once with a timeout.
func (c *trackedConn) interruptRead() {
	c.TCPConn.SetReadDeadline(time.Unix(1, 0))
}

// sweep interrupts the reads of the connections that overstay their
// phase, every l.sweepInterval(), until ctx ends.
func (t *connTracker) sweep(ctx context.Context, l limits) {
	interval := l.sweepInterval()
	start := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var expired []*trackedConn
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// From the clock, not the ticks: a late tick is not a lost sweep.
		now := uint64(time.Since(start) / interval)
		t.sweeps.Store(now)
		expired = t.expired(now, l, interval, expired[:0])
		for _, c := range expired {
			c.interruptRead()
		}
		clear(expired)
	}
}

// expired appends to dst the connections that overstay their phase.
func (t *connTracker) expired(now uint64, l limits, interval time.Duration, dst []*trackedConn) []*trackedConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.tracked {
		if c.expired(now, l, interval) {
			dst = append(dst, c)
		}
	}
	return dst
}
