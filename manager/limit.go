package manager

import (
	"net"
	"net/http"
	"sync"
	"syscall"
)

// maxMetricsConns caps the metrics listener's open connections. A scrape
// takes one for a millisecond or so, and a scraper keeps one alive between
// scrapes: a few are in use at any time, even with every /probe target of
// a thousand ports.
const maxMetricsConns = 64

// metricsConnLimit is maxMetricsConns, or a quarter of the open-file
// limit when that is lower, so that held connections can never take the
// file descriptors that the control socket, the instances' logs and
// their restarts need.
func metricsConnLimit() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > maxMetricsConns*4 {
		return maxMetricsConns
	}
	return max(int(lim.Cur/4), 1)
}

// limitListener accepts at most cap(slots) connections at a time. When
// they are all taken, a new connection takes the slot of the oldest one
// that has not sent a whole request (a slowloris client), else of the
// oldest idle one, as the server reports them (connState); only when
// every connection is busy answering is the new one closed, as soon as it
// is accepted, so that it costs a file descriptor only for that moment
// and its client learns at once that it was refused, instead of waiting
// in the accept queue. A connection's slot is freed when it is closed.
//
// Accept errors are returned as they are: net/http's Server sleeps after
// a temporary one (EMFILE included), from 5ms up to 1s, so a listener out
// of file descriptors waits instead of spinning.
type limitListener struct {
	net.Listener
	slots chan struct{}
	mu    sync.Mutex
	// waiting are the connections that may give up their slot, with the
	// order in which they began to wait for a request.
	waiting map[*limitConn]waitingConn
	seq     uint64
}

type waitingConn struct {
	idle bool // between requests, rather than before the first
	seq  uint64
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), waiting: map[*limitConn]waitingConn{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitConn{Conn: conn, release: func() { <-l.slots }}, nil
		default:
		}
		if victim := l.evict(); victim != nil {
			victim.once.Do(func() {}) // its slot goes to conn
			victim.Conn.Close()
			return &limitConn{Conn: conn, release: func() { <-l.slots }}, nil
		}
		conn.Close()
	}
}

// evict takes the connection that gives up its slot out of waiting: the
// one that has waited longest for its first request, else the one idle
// longest; nil if every connection is busy.
func (l *limitListener) evict() *limitConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	var victim *limitConn
	var best waitingConn
	for c, w := range l.waiting {
		if victim == nil || !w.idle && best.idle || w.idle == best.idle && w.seq < best.seq {
			victim, best = c, w
		}
	}
	delete(l.waiting, victim)
	return victim
}

// connState is the server's http.Server.ConnState: it tells which
// connections wait for a request.
func (l *limitListener) connState(c net.Conn, state http.ConnState) {
	lc, ok := c.(*limitConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch state {
	case http.StateNew, http.StateIdle:
		l.seq++
		l.waiting[lc] = waitingConn{idle: state == http.StateIdle, seq: l.seq}
	default:
		delete(l.waiting, lc)
	}
}

// limitConn frees its listener's slot on its first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite half-closes the connection when it can, as net/http does
// before closing one it answered with an error, so that the client reads
// the answer rather than a reset.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
