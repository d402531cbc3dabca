package manager

import (
	"net"
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

// limitListener accepts at most cap(slots) connections at a time. A
// connection beyond that is closed as soon as it is accepted, so that it
// costs a file descriptor only for that moment and its client learns at
// once that it was refused, instead of waiting in the accept queue. A
// connection's slot is freed when it is closed.
//
// Accept errors are returned as they are: net/http's Server sleeps after
// a temporary one (EMFILE included), from 5ms up to 1s, so a listener out
// of file descriptors waits instead of spinning.
type limitListener struct {
	net.Listener
	slots chan struct{}
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n)}
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
			conn.Close()
		}
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
