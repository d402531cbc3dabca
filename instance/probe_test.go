package instance

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// serveAt serves HTTP on a free port of host, until the test ends.
func serveAt(t *testing.T, host string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// An instance bound to the config's address refuses connects on
// 127.0.0.1: the probes dial that address.
func TestProbeReachesAnInstanceOnTheConfiguredAddress(t *testing.T) {
	port := serveAt(t, "127.0.0.2")
	host := netip.MustParseAddr("127.0.0.2")
	for _, p := range []Probe{{HTTPPath: "/"}, {}} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := p.wait(ctx, host, port); err != nil {
			t.Errorf("probe %+v of 127.0.0.2:%d: %v", p, port, err)
		}
		cancel()
	}
	if err := probeLive(context.Background(), host, port, Liveness{HTTPPath: "/", Timeout: 5 * time.Second}); err != nil {
		t.Errorf("liveness probe of 127.0.0.2:%d: %v", port, err)
	}
}

// Defect: with address: 127.0.0.2, a foreign server on 127.0.0.1 with the
// same port number made /bin/sleep "ready".
func TestProbeIsNotAnsweredByAServerOnAnotherAddress(t *testing.T) {
	port := serveAt(t, "127.0.0.1")
	host := netip.MustParseAddr("127.0.0.2")
	for _, p := range []Probe{{HTTPPath: "/", Interval: 10 * time.Millisecond}, {Interval: 10 * time.Millisecond}} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		if err := p.wait(ctx, host, port); err == nil {
			t.Errorf("probe %+v of 127.0.0.2:%d was answered by the server on 127.0.0.1", p, port)
		}
		cancel()
	}
}

func TestProbeOfAPortNobodyListensOnSaysWhy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	err = Probe{HTTPPath: "/"}.probeOnce(context.Background(), netip.MustParseAddr("127.0.0.1"), port)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("probe of closed port %d: got %v, want connection refused", port, err)
	}
}

func TestProbesDialLoopbackForEveryInterface(t *testing.T) {
	for host, want := range map[string]string{"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "10.0.0.11": "10.0.0.11"} {
		var s Spec
		if host != "" {
			s.Host = netip.MustParseAddr(host)
		}
		if got := s.host(); got.String() != want {
			t.Errorf("address %q: probes dial %s, want %s", host, got, want)
		}
	}
}
