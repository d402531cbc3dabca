package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"

	"golang.org/x/sys/unix"

	"github.com/hellomgr/hellomgr/config"
)

const unitFile = "../deploy/hellomgr.service"

// installedBin is where the unit expects the binary; the tests point it at
// the binary under test instead.
const installedBin = "/usr/local/bin/hellomgr"

// verifyUnit runs `systemd-analyze verify` on unit text, with the binary
// under test in place of the installed one, and returns its output.
// systemd-analyze exits 0 even for a line it ignores ("Failed to parse
// ..., ignoring"), so any output at all is a finding.
func verifyUnit(t *testing.T, text string) (string, error) {
	t.Helper()
	need(t, "/usr/bin/systemd-analyze", "systemd")
	path := filepath.Join(t.TempDir(), "hellomgr.service")
	text = strings.ReplaceAll(text, installedBin, hellomgrBin)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/usr/bin/systemd-analyze", "verify", "--man=no", path).CombinedOutput()
	return string(out), err
}

func TestSystemdUnitVerifies(t *testing.T) {
	unit := readFile(unitFile)
	if unit == "" {
		t.Fatalf("%s is missing or empty", unitFile)
	}
	if out, err := verifyUnit(t, unit); err != nil || out != "" {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}
	// The check above would see a mistake: a value systemd ignores.
	broken := strings.Replace(unit, "KillMode=mixed", "KillMode=gentle", 1)
	if out, _ := verifyUnit(t, broken); !strings.Contains(out, "KillMode") && !strings.Contains(out, "kill mode") {
		t.Errorf("systemd-analyze verify says nothing about KillMode=gentle: %q", out)
	}
}

// TestSystemdUnitSettings pins what the unit promises: a foreground
// manager that notifies, a reload that waits for the rollout, and a stop
// that leaves the instances to the manager for longer than it needs.
func TestSystemdUnitSettings(t *testing.T) {
	unit := unitSettings(readFile(unitFile))
	for key, want := range map[string]string{
		"Type":         "notify",
		"NotifyAccess": "main",
		"KillMode":     "mixed",
		"KillSignal":   "SIGTERM",
		"ExecStart":    installedBin + " up -c /etc/hellomgr/config.yaml",
		"ExecReload":   installedBin + " reload -c /etc/hellomgr/config.yaml",
	} {
		if unit[key] != want {
			t.Errorf("%s=%q, want %q", key, unit[key], want)
		}
	}
	cfg, err := config.Parse("config.yaml", []byte("ports: [8001]\n"))
	if err != nil {
		t.Fatal(err)
	}
	stop, err := time.ParseDuration(unit["TimeoutStopSec"])
	// The manager gives its instances stop.timeout, then SIGKILL, plus 5s.
	if need := cfg.Stop.Timeout + 5*time.Second; err != nil || stop <= need {
		t.Errorf("TimeoutStopSec=%q, want a duration above stop.timeout + 5s = %v", unit["TimeoutStopSec"], need)
	}
}

// unitSettings returns the unit's Key=Value lines (the last of each key).
func unitSettings(text string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// TestSystemdNotify plays systemd's part for `hellomgr up` in the
// foreground: it listens on NOTIFY_SOCKET and checks the messages and their
// order through a start, a reload and a SIGTERM. The instances must not see
// the socket: the built-in server would say READY=1 and STOPPING=1 too.
func TestSystemdNotify(t *testing.T) {
	d := newDeployment(t)
	ports := testnet.FreePorts(t, 2)
	d.write("config.yaml", fmt.Sprintf("ports: %s\nready: {timeout: 10s, interval: 20ms}\nstop: {timeout: 5s}\nmetrics: {address: off}\n", portsYAML(ports)))
	sock := listenNotify(t, filepath.Join(d.dir, "notify"))

	up := exec.Command(hellomgrBin, "up", "-c", filepath.Join(d.dir, "config.yaml"))
	up.Env = append(os.Environ(), "NOTIFY_SOCKET="+filepath.Join(d.dir, "notify"))
	var out bytes.Buffer
	up.Stdout, up.Stderr = &out, &out
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- up.Wait() }()
	t.Cleanup(func() { up.Process.Kill() }) // by pid; a no-op once it has exited

	msg := receiveNotify(t, sock, exited)
	if !strings.HasPrefix(msg, "READY=1\nSTATUS=") {
		t.Fatalf("first message: got %q, want READY=1 with a STATUS", msg)
	}
	for _, port := range ports {
		if body, err := getBody(port); err != nil || body != "Hello Itcast!" {
			t.Errorf("port %d right after READY=1: got %q, %v; want Hello Itcast!", port, body, err)
		}
	}
	checkNoNotifySocket(t, d, filepath.Join(d.dir, "notify"))

	before := monotonicUsec()
	d.mustRun("reload")
	after := monotonicUsec()
	checkReloading(t, receiveNotify(t, sock, exited), before, after)
	if msg := receiveNotify(t, sock, exited); !strings.HasPrefix(msg, "READY=1\nSTATUS=reload done") {
		t.Errorf("after the rollout: got %q, want READY=1 with STATUS=reload done ...", msg)
	}
	checkNoNotifySocket(t, d, filepath.Join(d.dir, "notify"))

	up.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("hellomgr up after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("hellomgr up still running 30s after SIGTERM\n%s", out.String())
	}
	// Every datagram was queued before the manager exited: what follows is
	// all that was sent.
	rest := pendingNotify(t, sock)
	if len(rest) == 0 || rest[0] != "STOPPING=1" || len(rest) > 1 {
		t.Errorf("after SIGTERM: got %q, want only STOPPING=1 (an instance's message means it saw NOTIFY_SOCKET)", rest)
	}
}

// listenNotify is systemd's end of NOTIFY_SOCKET.
func listenNotify(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// receiveNotify waits up to 30s for the next message, failing early if
// the manager exits.
func receiveNotify(t *testing.T, conn *net.UnixConn, exited chan error) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	buf := make([]byte, 4096)
	for time.Now().Before(deadline) {
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := conn.Read(buf)
		if err == nil {
			return string(buf[:n])
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("hellomgr up exited (%v) while a notification was awaited", err)
		default:
		}
	}
	t.Fatal("no notification within 30s")
	return ""
}

// pendingNotify returns the messages queued on conn, without waiting.
func pendingNotify(t *testing.T, conn *net.UnixConn) []string {
	t.Helper()
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	buf := make([]byte, 4096)
	for {
		var n int
		var rerr error
		raw.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			return true
		})
		if rerr != nil {
			return msgs
		}
		msgs = append(msgs, string(buf[:n]))
	}
}

// checkReloading checks RELOADING=1 and its clock, which must fall within
// the `hellomgr reload` that caused it.
func checkReloading(t *testing.T, msg string, before, after int64) {
	t.Helper()
	first, second, _ := strings.Cut(msg, "\n")
	usec, err := strconv.ParseInt(strings.TrimPrefix(second, "MONOTONIC_USEC="), 10, 64)
	if first != "RELOADING=1" || !strings.HasPrefix(second, "MONOTONIC_USEC=") || err != nil {
		t.Fatalf("at reload: got %q, want RELOADING=1 and MONOTONIC_USEC=<number>", msg)
	}
	if usec < before || usec > after {
		t.Errorf("MONOTONIC_USEC=%d, want within the reload command's run, %d to %d", usec, before, after)
	}
}

// checkNoNotifySocket reads every instance's environment: systemd's
// NOTIFY_SOCKET is the manager's alone. (A built-in instance has one of
// its own, which hellomgr listens on for its READY=1.)
func checkNoNotifySocket(t *testing.T, d *deployment, systemd string) {
	t.Helper()
	for port, pid := range d.pids() {
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			t.Errorf("port %d: %v", port, err)
			continue
		}
		if bytes.Contains(env, []byte("NOTIFY_SOCKET="+systemd+"\x00")) {
			t.Errorf("port %d (pid %d) has systemd's NOTIFY_SOCKET in its environment", port, pid)
		}
	}
}

func monotonicUsec() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Sec*1e6 + ts.Nsec/1e3
}

func getBody(port int) (string, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}
