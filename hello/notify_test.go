package hello

// The server's part of sd_notify: READY=1 once listening, STOPPING=1 on
// drain, and a notify socket that fails never stops it. Package notify
// tests the sending itself (abstract sockets, NOTIFY_SOCKET unset).

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// expectDatagram reads one datagram from conn and checks it is want.
func expectDatagram(t *testing.T, conn *net.UnixConn, want string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(waitLimit))
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("waiting for %q: %v", want, err)
	}
	if got := string(buf[:n]); got != want {
		t.Errorf("notify socket: got %q, want %q", got, want)
	}
}

func TestNotifyReadyStopping(t *testing.T) {
	// Unix socket paths are limited to about 108 bytes: t.TempDir can be
	// too long, so use a short folder of our own.
	dir, err := os.MkdirTemp("", "hn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conn := testnet.NotifySocket(t, filepath.Join(dir, "n"))

	in := start(t, Options{})
	expectDatagram(t, conn, "READY=1")
	if err := in.stop(t); err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
	expectDatagram(t, conn, "STOPPING=1")
}

// TestNotifyFailure checks that a notify socket that cannot be reached is
// logged and does not stop the server.
func TestNotifyFailure(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "missing"))
	in := start(t, Options{})
	in.logs.wait(t, "notify READY=1:")
	if code, _ := get(t, newClient(t), in.url+"/"); code != 200 {
		t.Errorf("GET /: got %d, want 200", code)
	}
}
