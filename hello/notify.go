package hello

import (
	"fmt"
	"net"
	"os"
)

// notify sends state (such as "READY=1") to the service manager as one
// datagram on the Unix socket named by NOTIFY_SOCKET, as sd_notify(3) does.
// A name starting with "@" is in the abstract namespace (Go's net package
// maps the "@" to the leading NUL byte). If NOTIFY_SOCKET is unset, notify
// does nothing and returns nil; otherwise it returns the error of the send.
// NOTIFY_SOCKET stays in the environment, since Run notifies twice.
func notify(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify %s: %w", state, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify %s: %w", state, err)
	}
	return nil
}
