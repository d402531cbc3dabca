package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func numCPU() int { return runtime.NumCPU() }

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// server is one `hellomgr serve` process started by the bench.
type server struct {
	cmd  *exec.Cmd
	port int
	argv []string // as run, for the report
}

// startServer runs `hellomgr serve --port PORT` with extra flags, pinned to
// CPU 0 when pin is set, and waits until it answers.
func startServer(ctx context.Context, bin string, pin bool, extra ...string) (*server, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	argv := append([]string{bin, "serve", "--port", strconv.Itoa(ports[0])}, extra...)
	if pin {
		argv = append([]string{"/usr/bin/taskset", "-c", "0"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", strings.Join(argv, " "), err)
	}
	s := &server{cmd: cmd, port: ports[0], argv: argv}
	if err := waitListening(ctx, s.port, 10*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// stop sends SIGTERM to the server's pid and waits for it, with SIGKILL
// after 10 s. taskset execs the server, so the pid is the server's.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

func waitListening(ctx context.Context, port int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("port %d not listening after %s: %w", port, limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
