package notify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"

	"golang.org/x/sys/unix"
)

// shortDir is a temporary folder short enough for a Unix socket path
// (about 108 bytes), which t.TempDir may not be.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// receive reads one datagram, waiting at most 10 s.
func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("waiting for a notification: %v", err)
	}
	return string(buf[:n])
}

func monotonicUsec() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Sec*1e6 + ts.Nsec/1e3
}

func TestMessages(t *testing.T) {
	conn := testnet.NotifySocket(t, filepath.Join(shortDir(t), "n"))
	for _, tc := range []struct {
		send func() error
		want string
	}{
		{func() error { return Send("WATCHDOG=1") }, "WATCHDOG=1"},
		{func() error { return Ready("4 of 4 instances ready") }, "READY=1\nSTATUS=4 of 4 instances ready"},
		{Stopping, "STOPPING=1"},
	} {
		if err := tc.send(); err != nil {
			t.Fatalf("send %q: %v", tc.want, err)
		}
		if got := receive(t, conn); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// TestReloadingClock checks that RELOADING=1 carries the monotonic clock
// at the time of the call, which systemd compares with its own.
func TestReloadingClock(t *testing.T) {
	conn := testnet.NotifySocket(t, filepath.Join(shortDir(t), "n"))
	before := monotonicUsec()
	if err := Reloading(); err != nil {
		t.Fatal(err)
	}
	after := monotonicUsec()
	got := receive(t, conn)
	first, second, _ := strings.Cut(got, "\n")
	usec, err := strconv.ParseInt(strings.TrimPrefix(second, "MONOTONIC_USEC="), 10, 64)
	if first != "RELOADING=1" || !strings.HasPrefix(second, "MONOTONIC_USEC=") || err != nil {
		t.Fatalf("got %q, want RELOADING=1 and MONOTONIC_USEC=<number>", got)
	}
	if usec < before || usec > after {
		t.Errorf("MONOTONIC_USEC=%d, want between %d and %d", usec, before, after)
	}
}

func TestAbstractSocket(t *testing.T) {
	conn := testnet.NotifySocket(t, fmt.Sprintf("@hellomgr-notify-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := Send("READY=1"); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, conn); got != "READY=1" {
		t.Errorf("got %q, want READY=1", got)
	}
}

// TestUnset checks that without a service manager every call is a no-op
// that succeeds, so callers need not ask whether one listens.
func TestUnset(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	for name, send := range map[string]func() error{
		"Send":      func() error { return Send("READY=1") },
		"Ready":     func() error { return Ready("up") },
		"Reloading": Reloading,
		"Stopping":  Stopping,
	} {
		if err := send(); err != nil {
			t.Errorf("%s with NOTIFY_SOCKET unset: got %v, want nil", name, err)
		}
	}
}

// TestUnreachable checks that a socket nobody listens on is an error
// naming the message, the first line only.
func TestUnreachable(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(shortDir(t), "missing"))
	err := Ready("multi\nline")
	if err == nil || !strings.HasPrefix(err.Error(), "notify READY=1: ") {
		t.Errorf("got %v, want an error starting with %q", err, "notify READY=1: ")
	}
}
