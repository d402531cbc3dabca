package manager

import (
	"net"
	"strings"
	"testing"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

func TestBindPortOnTheConfiguredAddress(t *testing.T) {
	port := testnet.FreePorts(t, 1)[0]

	f, err := bindPort("127.0.0.2", port, true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if got := ln.Addr().(*net.TCPAddr).IP.String(); got != "127.0.0.2" {
		t.Errorf("port %d bound on %s, want 127.0.0.2", port, got)
	}
	// 127.0.0.1 is another address: the same port is free there.
	if err := CheckPortFree("127.0.0.2", port); err == nil {
		t.Errorf("port %d: bound twice on 127.0.0.2", port)
	}
	if err := CheckPortFree("127.0.0.1", port); err != nil {
		t.Errorf("port %d on 127.0.0.1: %v, want free", port, err)
	}

	// TEST-NET-2: no machine's own
	if _, err := bindPort("198.51.100.254", port, false); err == nil || !strings.Contains(err.Error(), "198.51.100.254 is not an address of this machine (address: in the config)") {
		t.Errorf("bind on an address not of this machine: got %v", err)
	}
}
