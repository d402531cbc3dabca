package hello

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// listenFD is the first inherited file descriptor in the systemd socket
// activation protocol (SD_LISTEN_FDS_START).
const listenFD = 3

// Listener returns the listener Run uses when Options.Listener is nil.
//
// If the environment holds LISTEN_FDS=1, and LISTEN_PID is either unset or
// this process's pid, Listener takes over the listening socket on fd 3 that
// the manager passed down, systemd style; otherwise it listens on
// ":"+port, on all interfaces as Tornado's app.listen does. Either way it
// first removes LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES from the
// environment, so that they do not leak to anything the process starts; a
// second call therefore never inherits.
//
// Listener returns an error if LISTEN_FDS applies to this process but is
// not 1, or if fd 3 is not a socket; it never falls back to a port of its
// own in that case, since the manager means this process to share its
// socket.
func Listener(port int) (net.Listener, error) {
	ln, err := inherit()
	if ln != nil || err != nil {
		return ln, err
	}
	return net.Listen("tcp", ":"+strconv.Itoa(port))
}

// inherit returns the listener on fd 3, or nil if the environment does not
// pass one to this process.
func inherit() (net.Listener, error) {
	fds, pid := os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_PID")
	for _, k := range []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"} {
		os.Unsetenv(k)
	}
	switch {
	case fds == "" || fds == "0":
		return nil, nil
	case pid != "" && pid != strconv.Itoa(os.Getpid()):
		return nil, nil // meant for another process
	case fds != "1":
		return nil, fmt.Errorf("LISTEN_FDS=%s: want exactly 1 inherited socket", fds)
	}
	// Check before wrapping: if fd 3 is not what the manager passed (a
	// leaked environment), closing it could close the runtime's own epoll
	// descriptor.
	var st syscall.Stat_t
	if err := syscall.Fstat(listenFD, &st); err != nil {
		return nil, fmt.Errorf("inherited fd %d: %w", listenFD, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		return nil, fmt.Errorf("inherited fd %d is not a socket (LISTEN_FDS=1)", listenFD)
	}
	f := os.NewFile(listenFD, "LISTEN_FDS socket")
	defer f.Close() // FileListener holds its own dup
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("inherited fd %d: %w", listenFD, err)
	}
	return inheritedListener{ln}, nil
}

// inheritedListener marks a listener taken from fd 3, for the log.
type inheritedListener struct{ net.Listener }

// describe names ln for the "listening" log line.
func describe(ln net.Listener) string {
	if _, ok := ln.(inheritedListener); ok {
		return fmt.Sprintf("%s (inherited fd %d)", ln.Addr(), listenFD)
	}
	return ln.Addr().String()
}
