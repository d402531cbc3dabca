package benchkit

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// FreePorts returns n distinct loopback ports that were free a moment
// ago: each is bound to port 0, and all are released together.
func FreePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// PortOpen reports whether a TCP connect to 127.0.0.1:port succeeds
// within a second.
func PortOpen(port int) bool {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// WaitFor calls cond every 10 ms until it is true, or fails after limit
// with an error naming what it waited for.
func WaitFor(what string, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
