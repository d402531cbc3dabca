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

// An instance bound to one address refuses connects on 127.0.0.1: the probe
// must find it where it listens.
func TestProbeReachesAnInstanceBoundToOneAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port

	for _, p := range []Probe{{HTTPPath: "/"}, {}} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := p.wait(ctx, port); err != nil {
			t.Errorf("probe %+v of 127.0.0.2:%d: %v", p, port, err)
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
	err = Probe{HTTPPath: "/"}.probeOnce(context.Background(), port)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("probe of closed port %d: got %v, want connection refused", port, err)
	}
}

func TestParseProcAddr(t *testing.T) {
	for s, want := range map[string]string{
		"0100007F":                         "127.0.0.1",
		"0201D50A":                         "10.213.1.2",
		"00000000000000000000000000000000": "::",
		"B80D0120000000000000000005000000": "2001:db8::5",
		"0000000000000000FFFF00000201D50A": "10.213.1.2",
	} {
		got, ok := parseProcAddr(s)
		if !ok || got != netip.MustParseAddr(want) {
			t.Errorf("parseProcAddr(%q): got %v, %v; want %s", s, got, ok, want)
		}
	}
	if _, ok := parseProcAddr("0100"); ok {
		t.Error("a short address parsed")
	}
}
