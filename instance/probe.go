package instance

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
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

// probeOnce makes one attempt and says why it failed. It probes the
// loopback address first, which reaches an instance listening on every
// interface (the default); when nothing answers there, it probes where the
// port really listens (listenAddrs): an instance bound to one address (the
// config's `address:`) refuses connects on 127.0.0.1.
func (p Probe) probeOnce(ctx context.Context, port int) error {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	loopback := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	err := p.probeAt(ctx, loopback, port)
	var opErr *net.OpError
	if err == nil || !errors.As(err, &opErr) || opErr.Op != "dial" {
		return err
	}
	for _, a := range listenAddrs(port) {
		if a != loopback && !a.IsUnspecified() {
			return p.probeAt(ctx, a, port)
		}
	}
	return err
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

// listenAddrs returns the local addresses of the sockets listening on
// port in this network namespace, from /proc/net/tcp and /proc/net/tcp6;
// none when they cannot be read. Each line of those tables starts
//
//	0: 0100007F:1F41 00000000:0000 0A ...
//
// with the local address in hexadecimal, each 32-bit word in the
// machine's byte order, then the port, the remote address and the state
// (0A: LISTEN).
func listenAddrs(port int) []netip.Addr {
	var addrs []netip.Addr
	for _, name := range [...]string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 4 || f[3] != "0A" {
				continue
			}
			hexAddr, hexPort, ok := strings.Cut(f[1], ":")
			if n, err := strconv.ParseUint(hexPort, 16, 16); !ok || err != nil || int(n) != port {
				continue
			}
			if a, ok := parseProcAddr(hexAddr); ok {
				addrs = append(addrs, a)
			}
		}
	}
	return addrs
}

// parseProcAddr decodes an address of /proc/net/tcp (8 hex digits) or
// /proc/net/tcp6 (32).
func parseProcAddr(s string) (netip.Addr, bool) {
	raw, err := hex.DecodeString(s)
	if err != nil || len(raw) != 4 && len(raw) != 16 {
		return netip.Addr{}, false
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	a, _ := netip.AddrFromSlice(b)
	return a.Unmap(), true
}

var probeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// wait probes until an attempt succeeds or ctx ends. It returns nil when
// ready, or the last attempt's error wrapped with the context's.
func (p Probe) wait(ctx context.Context, port int) error {
	interval := p.Interval
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	for {
		err := p.probeOnce(ctx, port)
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
