package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// TCP states as /proc/net/tcp writes them (include/net/tcp_states.h).
const (
	tcpEstablished = 0x01
	tcpListen      = 0x0A
)

// tcpFiles are the kernel's IPv4 and IPv6 TCP socket tables. The IPv6 one is
// missing when IPv6 is disabled.
var tcpFiles = [...]string{"/proc/net/tcp", "/proc/net/tcp6"}

// socket is one line of a TCP socket table.
type socket struct {
	localPort uint16
	state     uint8
	inode     uint64
}

// Established returns the number of TCP connections in state ESTABLISHED
// whose local port is port, over IPv4 and IPv6: the connections that a
// server listening on port has accepted and not yet closed. Connections that
// this machine opened to port are not counted, since their local port is an
// ephemeral one.
func Established(port int) (int, error) {
	if err := checkPort(port); err != nil {
		return 0, err
	}
	n := 0
	err := scanTCP(func(s socket) {
		if s.state == tcpEstablished && int(s.localPort) == port {
			n++
		}
	})
	if err != nil {
		return 0, fmt.Errorf("count connections on port %d: %w", port, err)
	}
	return n, nil
}

// listenInodes returns the inodes of the sockets in state LISTEN on port.
func listenInodes(port int) (map[uint64]bool, error) {
	inodes := map[uint64]bool{}
	err := scanTCP(func(s socket) {
		// A socket without an inode is being torn down: no one holds it.
		if s.state == tcpListen && int(s.localPort) == port && s.inode != 0 {
			inodes[s.inode] = true
		}
	})
	return inodes, err
}

// scanTCP calls fn for every socket in the IPv4 and IPv6 TCP tables.
func scanTCP(fn func(socket)) error {
	for _, name := range tcpFiles {
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		err = parseTCP(f, fn)
		f.Close()
		if err != nil {
			return fmt.Errorf("parse %s: %w", name, err)
		}
	}
	return nil
}

// parseTCP reads a table in the format of /proc/net/tcp, whose lines after
// the header look like
//
//	0: 0100007F:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000  0 123456 ...
//
// with the local address and port, the remote ones, the state, and in the
// tenth field the socket's inode. /proc/net/tcp6 differs only in longer
// addresses.
func parseTCP(r io.Reader, fn func(socket)) error {
	sc := bufio.NewScanner(r)
	sc.Scan() // the header
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 10 {
			return fmt.Errorf("short line %q", sc.Bytes())
		}
		colon := bytes.LastIndexByte(f[1], ':')
		if colon < 0 {
			return fmt.Errorf("no port in local address %q", f[1])
		}
		port, err := strconv.ParseUint(string(f[1][colon+1:]), 16, 16)
		if err != nil {
			return fmt.Errorf("local port: %w", err)
		}
		state, err := strconv.ParseUint(string(f[3]), 16, 8)
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		inode, err := strconv.ParseUint(string(f[9]), 10, 64)
		if err != nil {
			return fmt.Errorf("inode: %w", err)
		}
		fn(socket{localPort: uint16(port), state: uint8(state), inode: inode})
	}
	return sc.Err()
}

func checkPort(port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("port %d is out of range 1-65535", port)
	}
	return nil
}
