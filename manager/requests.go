package manager

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellomgr/hellomgr/reqlog"
)

// requestLog is what nginx tells the manager of every request it passes
// to an instance: `hellomgr nginx` prints an access_log line that sends
// it, as syslog datagrams, to reqlog.SocketPath of the config. The zero
// value is ready: counts are made on first use, so that a manager that
// never serves (tests) still has empty ones.
type requestLog struct {
	once sync.Once
	c    *reqlog.Counts
}

func (l *requestLog) counts() *reqlog.Counts {
	l.once.Do(func() { l.c = reqlog.NewCounts() })
	return l.c
}

// serveRequests listens on the request log socket and counts what nginx
// sends until ctx ends. A socket that cannot be bound is logged, not
// fatal: the manager runs on without request metrics, and says so.
func (m *Manager) serveRequests(ctx context.Context) {
	path := reqlog.SocketPath(m.Config().StateDir)
	l, err := reqlog.Listen(path)
	if err != nil {
		m.log.Warn("no request metrics from nginx", "err", err)
		return
	}
	m.log.Debug("request log socket", "path", l.Path())
	if err := l.Serve(ctx, m.reqs.counts()); err != nil {
		m.log.Error("request metrics from nginx stopped", "err", err)
	}
}

// RequestCollector implements metrics.RequestSource: the series of the
// requests nginx passed to port.
func (m *Manager) RequestCollector(port int) prometheus.Collector {
	return m.reqs.counts().PortCollector(port)
}

// RequestLogCollector implements metrics.RequestSource.
func (m *Manager) RequestLogCollector() prometheus.Collector {
	return m.reqs.counts().LogCollector()
}
