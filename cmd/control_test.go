package cmd

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"

	"github.com/hellomgr/hellomgr/internal/testchild"
)

func (e *env) socket() string { return filepath.Join(e.dir, ".hellomgr", "hellomgr.sock") }

func dialControl(t *testing.T, e *env) net.Conn {
	t.Helper()
	conn, err := net.Dial("unix", e.socket())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestControlSocketSurvivesGarbageAndHalfWrittenRequests(t *testing.T) {
	e := newEnv(t, 1, "")
	e.mustRun("up", "-d")
	garbage := dialControl(t, e)
	garbage.Write([]byte("\x00\xffnot http at all\r\n\r\n"))
	garbage.SetReadDeadline(time.Now().Add(5 * time.Second))
	answer, _ := io.ReadAll(garbage)
	if !strings.HasPrefix(string(answer), "HTTP/1.1 400") {
		t.Errorf("garbage got %q, want a 400", answer)
	}
	half := dialControl(t, e)
	half.Write([]byte("POST /v1/rel")) // and never finishes
	done := make(chan string, 1)
	go func() { done <- e.mustRun("status") }()
	select {
	case out := <-done:
		if !strings.Contains(out, "ready") {
			t.Errorf("status beside a half-written request: %q", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("status stalled behind a half-written request")
	}
}

func TestClientHangingUpMidReloadDoesNotStopTheRollout(t *testing.T) {
	e := newEnv(t, 3, builtIn("v1"))
	e.mustRun("up", "-d")
	before := e.pids()
	e.writeConfig(builtIn("v2"))
	conn := dialControl(t, e)
	conn.Write([]byte("POST /v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"))
	bufio.NewReader(conn).ReadString('\n') // the status line: the reload has begun
	conn.Close()
	testnet.WaitFor(t, "every port to answer v2", 15*time.Second, func() bool {
		for _, port := range e.ports {
			if body, _ := testnet.Get(port); body != "v2" {
				return false
			}
		}
		return true
	})
	for port, pid := range e.pids() {
		if pid == before[port] {
			t.Errorf("port %d: pid %d not replaced", port, pid)
		}
	}
}

func TestASecondReloadIsRefusedWhileOneRuns(t *testing.T) {
	e := newEnv(t, 2, testChild("slow-start", "SLOW_START=700ms"))
	e.mustRun("up", "-d")
	first := e.command("reload")
	out, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	first.Start()
	line, _ := bufio.NewReader(out).ReadString('\n') // the first rollout has begun
	_, errOut, code := e.run("reload")
	if code != 1 || !strings.Contains(errOut, "a reload is in progress") {
		t.Errorf("second reload: exit %d, stderr %q; want exit 1, a reload is in progress (first said %q)", code, errOut, line)
	}
	io.Copy(io.Discard, out)
	if err := first.Wait(); err != nil {
		t.Errorf("first reload: %v, want it to finish", err)
	}
}

func TestControlSocketRefusesOtherUsers(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test plays another user and needs root (CI runs as root)")
	}
	e := newEnv(t, 1, "")
	e.mustRun("up", "-d")
	// Open the socket's mode so that only the peer-credential check stands
	// between another user and the manager.
	os.Chmod(e.socket(), 0o666)
	os.Chmod(e.dir, 0o755)
	os.Chmod(filepath.Join(e.dir, ".hellomgr"), 0o755)
	bin := filepath.Join(e.dir, "client")
	data, _ := os.ReadFile(os.Args[0])
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(uid uint32) string {
		cmd := exec.Command(bin, "-test.run=^$")
		cmd.Env = []string{testchild.Env + "=control-status", "SOCKET=" + e.socket()}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("client as uid %d: %v\n%s", uid, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := run(65534); strings.Contains(got, "HTTP/1.1 200") {
		t.Errorf("uid 65534 got %q from the control socket, want it refused", got)
	}
	if got := run(0); !strings.Contains(got, "answer: HTTP/1.1 200") {
		t.Errorf("root got %q, want a 200", got)
	}
}
