package instance

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Probe says how to tell that a started instance serves.
type Probe struct {
	HTTPPath string        // GET this path; any status below 500 counts. Empty: a TCP connect counts.
	Timeout  time.Duration // how long a start may take before it has failed
	Interval time.Duration // pause between attempts
	// Notify: the process is ready when it says READY=1 on the
	// NOTIFY_SOCKET it is given (sd_notify); HTTPPath is then not probed.
	Notify bool
}

// attemptTimeout bounds one probe attempt, so one hung connection cannot use
// up the whole start timeout.
const attemptTimeout = time.Second

// probeOnce makes one attempt at host:port and says why it failed. It
// probes where the config says the port listens, and nowhere else: a
// server on another address that happens to use the port (127.0.0.1 when
// the instances are on 127.0.0.2) must never make an instance ready.
func (p Probe) probeOnce(ctx context.Context, host netip.Addr, port int) error {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	return p.probeAt(ctx, host, port)
}

// probeAt makes one attempt at host:port.
func (p Probe) probeAt(ctx context.Context, host netip.Addr, port int) error {
	addr := netip.AddrPortFrom(host, uint16(port)).String()
	if p.HTTPPath == "" {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+p.HTTPPath, nil)
	if err != nil {
		return err
	}
	req.Close = true // a fresh connection each time: never count a stale one
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("GET %s answered %s", p.HTTPPath, resp.Status)
	}
	return nil
}

var probeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// wait probes until an attempt succeeds or ctx ends. It returns nil when
// ready, or the last attempt's error wrapped with the context's.
func (p Probe) wait(ctx context.Context, host netip.Addr, port int) error {
	interval := p.Interval
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	for {
		err := p.probeOnce(ctx, host, port)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last probe: %v)", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}
