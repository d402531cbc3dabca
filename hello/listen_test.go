package hello

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestListenerPIDMismatch(t *testing.T) {
	t.Setenv("LISTEN_FDS", "1")
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()+1))
	t.Setenv("LISTEN_FDNAMES", "http")
	ln, err := Listener(0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, ok := ln.(*net.TCPListener); !ok {
		t.Errorf("LISTEN_PID of another process: got a %T, want a new *net.TCPListener", ln)
	}
	checkListenEnvUnset(t)
}

func TestListenerBadCount(t *testing.T) {
	t.Setenv("LISTEN_FDS", "2")
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	ln, err := Listener(0)
	if err == nil {
		ln.Close()
		t.Fatal("LISTEN_FDS=2: no error")
	}
	if want := "LISTEN_FDS=2"; !strings.Contains(err.Error(), want) {
		t.Errorf("LISTEN_FDS=2: error %q does not mention %q", err, want)
	}
	checkListenEnvUnset(t)
}

func TestListenerPort(t *testing.T) {
	ln, err := Listener(0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if addr := ln.Addr().(*net.TCPAddr); !addr.IP.IsUnspecified() || addr.Port == 0 {
		t.Errorf("Listener(0) listens on %v, want all interfaces and a port", addr)
	}
}

func checkListenEnvUnset(t *testing.T) {
	t.Helper()
	for _, k := range []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("%s=%q still in the environment", k, v)
		}
	}
}

// child is the test binary re-executed as `hellomgr serve`.
type child struct {
	cmd    *exec.Cmd
	logs   *logSink
	exited chan struct{} // closed when the process has been waited for
	err    error         // what Wait returned, once exited is closed
}

// startChild runs serveHelper in a new process with fd as its fd 3, env
// added to a clean environment, and message as the body of GET /. The
// child is killed at the end of the test if it is still running.
func startChild(t *testing.T, fd *os.File, message string, env ...string) *child {
	t.Helper()
	var clean []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LISTEN_") && !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			clean = append(clean, kv)
		}
	}
	c := &child{cmd: exec.Command(os.Args[0]), logs: newLogSink(), exited: make(chan struct{})}
	c.cmd.Env = append(clean, append(env, helperVar+"=serve", "HELLO_TEST_MESSAGE="+message)...)
	c.cmd.ExtraFiles = []*os.File{fd}
	c.cmd.Stderr = c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		select {
		case <-c.exited:
		case <-time.After(waitLimit):
			t.Errorf("pid %d: not reaped %v after SIGKILL", c.cmd.Process.Pid, waitLimit)
		}
	})
	return c
}

// stop sends SIGTERM and returns how the child exited.
func (c *child) stop(t *testing.T) error {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	return c.wait(t)
}

// wait waits for the child to exit and returns what Wait returned.
func (c *child) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-c.exited:
		return c.err
	case <-time.After(DefaultStopTimeout + waitLimit):
		// Ask for a goroutine dump, for the log below.
		c.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-c.exited:
		case <-time.After(waitLimit):
		}
		t.Fatalf("pid %d did not exit; log:\n%s", c.cmd.Process.Pid, c.logs)
		return nil
	}
}

// TestInheritedSocket is the manager's view of a reload: it holds a
// listening socket and passes it as fd 3 with LISTEN_FDS=1 to one child
// after another. A client looping on the port never sees an error while
// the first child drains and the second takes over.
func TestInheritedSocket(t *testing.T) {
	ln := listen(t)
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	url := "http://" + ln.Addr().String() + "/"

	first := startChild(t, f, "first", "LISTEN_FDS=1")
	first.logs.wait(t, "listening on "+ln.Addr().String()+" (inherited fd 3)")
	c := newClient(t)
	if code, body := get(t, c, url); code != 200 || body != "first" {
		t.Fatalf("port %s: got %d %q, want 200 %q", ln.Addr(), code, body, "first")
	}
	c.CloseIdleConnections()

	firstGone := make(chan struct{})
	loop := make(chan error, 1)
	go func() {
		c := newClient(t)
		loop <- getUntil(c, url, "second", firstGone)
		c.CloseIdleConnections()
	}()

	second := startChild(t, f, "second", "LISTEN_FDS=1")
	second.logs.wait(t, "(inherited fd 3)")
	if err := first.stop(t); err != nil {
		t.Fatalf("first child: %v; log:\n%s", err, first.logs)
	}
	close(firstGone)
	if err := waitFor(t, loop, "client answered by the second child"); err != nil {
		t.Error(err)
	}
	first.logs.wait(t, "stopped")
	first.logs.wait(t, `env after: LISTEN_FDS="" LISTEN_PID=""`)
	if err := second.stop(t); err != nil {
		t.Errorf("second child: %v; log:\n%s", err, second.logs)
	}
}

// getUntil sends GETs to url until, after done is closed, it has had 10
// answers. Those must have body want. It returns the first error.
func getUntil(c *http.Client, url, want string, done <-chan struct{}) error {
	for i, got := 0, 0; got < 10; i++ {
		var gone bool
		select {
		case <-done:
			gone = true
		default:
		}
		req, _ := http.NewRequest("GET", url, nil)
		r := do(c, req)
		switch {
		case r.err != nil:
			return fmt.Errorf("GET %d: %v (sent: %v)", i, r.err, r.wrote)
		case gone && r.body != want:
			return fmt.Errorf("GET %d: got %q after the first child exited, want %q", i, r.body, want)
		case gone:
			got++
		}
	}
	return nil
}

func TestInheritedNotASocket(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "fd3")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := startChild(t, f, "x", "LISTEN_FDS=1")
	err = c.wait(t)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("child with a file as fd 3: exit %v, want exit status 1", err)
	}
	c.logs.wait(t, "inherited fd 3 is not a socket")
}
