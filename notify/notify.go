// Package notify is the sending side of sd_notify(3): a service telling
// its service manager of a state change, one datagram to the Unix socket
// named by NOTIFY_SOCKET. The manager uses it towards systemd (a
// Type=notify unit), the built-in server towards hellomgr. The receiving
// side, hellomgr as the service manager of its instances (ready.notify),
// is instance's ready socket, not this package.
package notify

import (
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Send sends state (such as "READY=1", or several lines of assignments)
// as one datagram. A name starting with "@" is in the abstract namespace.
// With NOTIFY_SOCKET unset it does nothing and returns nil, so callers need
// not know whether a service manager listens.
func Send(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify %s: %w", firstLine(state), err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify %s: %w", firstLine(state), err)
	}
	return nil
}

// Ready says the service is up, with a human-readable status line.
func Ready(status string) error { return Send("READY=1\nSTATUS=" + status) }

// Reloading says a reload began. systemd wants the monotonic clock with it
// (MONOTONIC_USEC) to match the reload with the ExecReload that asked.
func Reloading() error {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	usec := ts.Sec*1e6 + ts.Nsec/1e3
	return Send(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", usec))
}

// Stopping says the service is shutting down.
func Stopping() error { return Send("STOPPING=1") }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
