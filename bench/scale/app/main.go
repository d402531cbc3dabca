// Command app is the small app bench/scale runs at up to 1,024 instances:
// the built-in server's protocol with hellomgr (the listening socket on
// fd 3 with LISTEN_FDS=1, READY=1 on NOTIFY_SOCKET, exit 0 on SIGTERM), so
// that the manager does for each instance exactly what it does for a
// built-in one, but a few MiB of memory where `hellomgr serve` takes 12:
// no net/http, no metrics, no command line library. It answers every
// request on a connection with "Hello Itcast!", reading up to the end of
// each request's headers (no body).
//
// It is built by the bench (CGO_ENABLED=0, static), not meant to be run
// by hand.
package main

import (
	"bytes"
	"net"
	"os"
	"os/signal"
	"syscall"
)

const answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello Itcast!"

func main() {
	if os.Getenv("LISTEN_FDS") != "1" {
		os.Stderr.WriteString("app: want the listening socket on fd 3 (LISTEN_FDS=1)\n")
		os.Exit(2)
	}
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		os.Stderr.WriteString("app: " + err.Error() + "\n")
		os.Exit(1)
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-term
		os.Exit(0)
	}()
	notify("READY=1")
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		go serve(c)
	}
}

// serve answers each request on c, a request being whatever ends with an
// empty line.
func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			return
		}
		n += m
		for {
			end := bytes.Index(buf[:n], []byte("\r\n\r\n"))
			if end < 0 {
				break
			}
			if _, err := c.Write([]byte(answer)); err != nil {
				return
			}
			n = copy(buf, buf[end+4:n])
		}
		if n == len(buf) {
			return // a header too large for this app
		}
	}
}

// notify sends state on NOTIFY_SOCKET, as sd_notify does.
func notify(state string) {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		os.Stderr.WriteString("app: notify: " + err.Error() + "\n")
		return
	}
	defer c.Close()
	c.Write([]byte(state))
}
