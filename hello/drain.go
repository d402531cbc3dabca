package hello

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// drain stops the server without failing a request that a client such as
// nginx has already sent. It expects Serve to be running on ln, and served
// to receive what Serve returns. In order, it:
//
//  1. sends STOPPING=1 to the service manager and closes ln, so that this
//     process accepts no more connections. With an inherited socket only
//     this process's copy is closed: new connections wait in the kernel's
//     queue for the next process. (With a socket of its own, the kernel
//     resets connections still in its queue: only socket inheritance, or
//     taking the server out of nginx's upstream first, avoids that.)
//  2. marks the server as draining: from then on every response carries
//     "Connection: close", so net/http closes each connection after its
//     next response and the client does not reuse it. This comes after
//     step 1 so that a client told to reconnect finds the port refused
//     (or served by the next process) rather than queued and then reset.
//     Idle connections are not closed here: SetKeepAlivesEnabled(false)
//     would close them at once, racing with nginx writing a request on
//     them, and a POST lost that way becomes a 502;
//  3. waits for Serve to return, so that every accepted connection is
//     counted, then until every connection has closed or opts.DrainGrace
//     has passed, so that idle keep-alive connections can carry one last
//     request and be closed by it;
//  4. calls shutdown, which closes the connections still idle and waits for
//     active ones until opts.StopTimeout.
//
// drain returns what shutdown returns. It logs one line per step.
func (s *server) drain(ln net.Listener, served <-chan error) error {
	s.notify("STOPPING=1")
	if err := s.closeListener(ln); err != nil {
		return err
	}
	s.conns.draining.Store(true)
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		s.logf("serve: %v", err)
	}
	s.logf("draining: stopped accepting, %d connections open, each closes after its next response (grace %v)",
		s.conns.count(), s.opts.DrainGrace)

	grace := time.NewTimer(s.opts.DrainGrace)
	defer grace.Stop()
	select {
	case <-s.conns.allClosed():
	case <-grace.C:
	}
	return s.shutdown()
}

// wakeInterval is how long closeListener waits for the close of the
// listener before it connects to wake a blocked accept, and between tries.
const wakeInterval = 100 * time.Millisecond

// closeListener closes ln and returns once the close is done.
//
// Closing a listener waits for the accept(2) in progress. On a socket in
// non-blocking mode, as Go keeps its sockets, that is at once. But the
// O_NONBLOCK flag of an inherited socket is shared with the manager and
// with every other process holding the socket, and a manager written in Go
// that passes the socket through exec.Cmd.ExtraFiles calls os.File.Fd,
// which puts the socket in blocking mode each time it starts a process.
// accept(2) then blocks in the kernel until a connection comes, and
// neither Close nor http.Server.Shutdown, which waits for Serve to return,
// can interrupt it. So if the close is not done after wakeInterval,
// closeListener connects to ln's own address, and again every
// wakeInterval, until the blocked accept takes one of these connections
// (Serve then sees a client that closes at once; one taken by another
// process holding the socket is as harmless there).
//
// closeListener returns an error if the close is still not done after
// opts.StopTimeout.
func (s *server) closeListener(ln net.Listener) error {
	closed := make(chan error, 1)
	go func() { closed <- ln.Close() }()
	wake := time.NewTicker(wakeInterval)
	defer wake.Stop()
	giveUp := time.NewTimer(s.opts.StopTimeout)
	defer giveUp.Stop()
	for tries := 0; ; tries++ {
		select {
		case err := <-closed:
			if err != nil {
				s.logf("close listener: %v", err)
			}
			return nil
		case <-wake.C:
			if tries == 0 {
				s.logf("accept is blocked in the kernel (the socket is in blocking mode): connecting to wake it")
			}
			wakeAccept(ln.Addr())
		case <-giveUp.C:
			return fmt.Errorf("close listener: accept still blocked after %v", s.opts.StopTimeout)
		}
	}
}

// wakeAccept opens a connection to addr and closes it at once. An
// unspecified address (":8001") is reached on the loopback interface.
func wakeAccept(addr net.Addr) {
	target := addr.String()
	if a, ok := addr.(*net.TCPAddr); ok && a.IP.IsUnspecified() {
		ip := net.IPv6loopback
		if a.IP.To4() != nil {
			ip = net.IPv4(127, 0, 0, 1)
		}
		target = net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
	}
	if c, err := net.DialTimeout(addr.Network(), target, wakeInterval); err == nil {
		c.Close()
	}
}

// shutdown calls http.Server.Shutdown with a deadline of opts.StopTimeout:
// it closes idle connections and waits for active ones to finish. It
// returns nil if they all did in time; otherwise it closes the rest and
// returns an error saying how many there were.
func (s *server) shutdown() error {
	s.logf("shutting down: %d connections open, waiting up to %v", s.conns.count(), s.opts.StopTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.StopTimeout)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		n := s.conns.count()
		s.http.Close()
		return fmt.Errorf("shutdown: closed %d connections still open after %v: %w", n, s.opts.StopTimeout, err)
	}
	s.logf("stopped")
	return nil
}

// connTracker counts the server's open connections through
// http.Server.ConnState, and holds the draining flag that handlers read.
// It also tracks the phase of each TCP connection (trackedConn) for the
// sweeper that keeps the server's timeouts (sweep).
type connTracker struct {
	draining atomic.Bool   // set once, at the start of drain
	sweeps   atomic.Uint64 // sweeps done; the clock of the connections' phases

	mu       sync.Mutex
	open     int                       // connections accepted and not yet closed
	tracked  map[*trackedConn]struct{} // the open TCP connections
	watching bool                      // allClosed has been called
	closed   chan struct{}             // closed when watching and open == 0
	done     bool                      // closed is closed
}

func newConnTracker() *connTracker {
	return &connTracker{closed: make(chan struct{}), tracked: make(map[*trackedConn]struct{})}
}

// track wraps a connection just accepted, in phaseNew.
func (t *connTracker) track(c *net.TCPConn) *trackedConn {
	tc := &trackedConn{TCPConn: c, sweeps: &t.sweeps}
	tc.enter(phaseNew)
	return tc
}

// connState is the http.Server.ConnState hook. net/http calls it from the
// connection's goroutine: for a connection in keep-alive use, StateActive
// and StateIdle once per request each.
func (t *connTracker) connState(c net.Conn, state http.ConnState) {
	tc, _ := c.(*trackedConn)
	switch state {
	case http.StateNew:
		t.add(tc, 1)
	case http.StateActive:
		if tc != nil {
			tc.enter(phaseActive)
		}
	case http.StateIdle:
		if tc != nil {
			tc.enter(phaseIdle)
		}
	case http.StateClosed, http.StateHijacked:
		t.add(tc, -1)
	}
}

// add counts a connection opened (n 1) or closed (n -1), and tracks or
// forgets it if it is a trackedConn.
func (t *connTracker) add(c *trackedConn, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.open += n
	if c != nil {
		if n > 0 {
			t.tracked[c] = struct{}{}
		} else {
			delete(t.tracked, c)
		}
	}
	t.checkLocked()
}

func (t *connTracker) checkLocked() {
	if t.watching && t.open == 0 && !t.done {
		t.done = true
		close(t.closed)
	}
}

// allClosed returns a channel that is closed once no connection is open.
// Call it only after the listener is closed and Serve has returned, or a
// connection accepted later would go unnoticed.
func (t *connTracker) allClosed() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.watching = true
	t.checkLocked()
	return t.closed
}

// count returns the number of open connections.
func (t *connTracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open
}

// closeWhenDraining wraps next so that, once the server is draining, the
// response carries "Connection: close": net/http then closes the
// connection after writing it, and the client does not send another
// request on it. The flag is read when the request starts; a response to a
// request that started before the drain keeps its connection open, and
// shutdown closes that connection once it is idle.
func (t *connTracker) closeWhenDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}
