package manager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hellomgr/hellomgr/metrics"
)

// rolloutStats counts rollouts for the metrics.
type rolloutStats struct {
	mu sync.Mutex
	r  metrics.Rollouts
}

func (s *rolloutStats) started() {
	s.mu.Lock()
	s.r.Started++
	s.mu.Unlock()
}

func (s *rolloutStats) finished(d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.r.Failed++
	} else {
		s.r.Succeeded++
	}
	s.r.LastDuration = d
	s.r.Durations.Observe(d)
}

// Snapshot implements metrics.Source.
func (m *Manager) Snapshot() metrics.Snapshot {
	m.rollouts.mu.Lock()
	snap := metrics.Snapshot{Rollouts: m.rollouts.r}
	m.rollouts.mu.Unlock()
	command := commandLabel(m.Config())
	for _, st := range m.Instances() {
		dropped, _ := m.LogDropped(st.Port)
		snap.Instances = append(snap.Instances, metricsInstance(st, command, dropped))
	}
	return snap
}

// listenMetrics listens on the metrics address, or returns nil for "off".
func listenMetrics(addr string) (net.Listener, error) {
	if addr == "off" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %s: %w", addr, err)
	}
	return ln, nil
}

// serveMetrics serves the manager's metrics on ln until ctx ends.
//
// Whoever can reach the address must not be able to hurt the control
// plane: connections are capped (metricsConnLimit; one more is closed at
// once), and each is closed when its client is too slow to send a request
// or read the answer, or sits idle, so that neither held connections nor
// half-sent requests can use up the manager's file descriptors, which the
// control socket needs too.
func (m *Manager) serveMetrics(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           metrics.Handler(m),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		// Longer than Prometheus's default 1m scrape interval, so that a
		// scraper's connection is used again rather than made again.
		IdleTimeout: 90 * time.Second,
	}
	limited := newLimitListener(ln, metricsConnLimit())
	srv.ConnState = limited.connState // slowloris connections give way to scrapes
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(limited); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// MetricsAddr is the address the metrics endpoint listens on, or "".
func (m *Manager) MetricsAddr() string {
	if m.metricsLn == nil {
		return ""
	}
	return m.metricsLn.Addr().String()
}
