// Package testnet holds what tests need to run real servers side by side
// on one machine: free loopback ports chosen at run time, and waits that
// always have a deadline.
package testnet

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FreePorts returns n distinct ports that were free a moment ago (each
// bound on every interface, as the apps bind them, then released together).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// PortOpen reports whether something accepts connections on 127.0.0.1:port.
func PortOpen(port int) bool {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// WaitFor polls cond every 10 ms until it holds, and fails the test when
// limit passes first.
func WaitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var client = &http.Client{Timeout: 5 * time.Second}

// Get returns the body of GET / on 127.0.0.1:port, or why not (a status
// other than 200 is an error, with the body).
func Get(port int) (string, error) {
	resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("status %s", resp.Status)
	}
	return string(b), err
}

// StartServer starts cmd (a server the test needs: nginx, Prometheus) so
// that it dies with the test binary, and stops it when the test ends: stop
// (its graceful signal), then SIGKILL after 10 s.
func StartServer(t testing.TB, cmd *exec.Cmd, stop syscall.Signal) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(stop)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
}

// NotifySocket plays a service manager: a unixgram socket named name,
// with NOTIFY_SOCKET set to it for the test.
func NotifySocket(t testing.TB, name string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	return conn
}

// LockedBuffer collects what a logger or a child writes from several
// goroutines.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// PathState describes what is at path: its type, owner and mode, and its
// content (a file), target (a link) or entries (a folder), so that a test
// can tell it was left exactly as it was.
func PathState(path string) string {
	fi, err := os.Lstat(path)
	if err != nil {
		return "absent"
	}
	s := fmt.Sprintf("%s uid %d", fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, _ := os.Readlink(path)
		s += " -> " + target
	case fi.Mode().IsRegular():
		b, _ := os.ReadFile(path)
		s += fmt.Sprintf(" %q", b)
	case fi.IsDir():
		entries, _ := os.ReadDir(path)
		for _, e := range entries {
			s += " " + e.Name()
		}
	}
	return s
}
