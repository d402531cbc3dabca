package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"

	"github.com/hellomgr/hellomgr/control"
)

// statuses returns `hellomgr status --json`, by port.
func (e *env) statuses() map[int]control.InstanceStatus {
	e.t.Helper()
	var rows []control.InstanceStatus
	if err := json.Unmarshal([]byte(e.mustRun("status", "--json")), &rows); err != nil {
		e.t.Fatalf("status --json: %v", err)
	}
	m := map[int]control.InstanceStatus{}
	for _, r := range rows {
		m[r.Port] = r
	}
	return m
}

func (e *env) pids() map[int]int {
	pids := map[int]int{}
	for port, st := range e.statuses() {
		pids[port] = st.PID
	}
	return pids
}

func TestUpDetachedServesEveryPortUntilDown(t *testing.T) {
	e := newEnv(t, 3, "")
	out := e.mustRun("up", "-d")
	for _, port := range e.ports {
		if !strings.Contains(out, strconv.Itoa(port)) {
			t.Errorf("status table does not show port %d:\n%s", port, out)
		}
		if body, err := testnet.Get(port); err != nil || body != "Hello Itcast!" {
			t.Errorf("port %d: got %q, %v; want Hello Itcast!", port, body, err)
		}
	}
	st := e.statuses()
	pgids := map[int]bool{}
	for _, port := range e.ports {
		s := st[port]
		if s.State != "ready" || s.PID == 0 || s.Restarts != 0 {
			t.Errorf("port %d: %+v, want ready with a pid and no restarts", port, s)
		}
		pgid, _ := syscall.Getpgid(s.PID)
		if pgid != s.PID {
			t.Errorf("port %d: pid %d is in process group %d, want its own", port, s.PID, pgid)
		}
		pgids[pgid] = true
	}
	if len(pgids) != len(e.ports) {
		t.Errorf("%d process groups for %d instances", len(pgids), len(e.ports))
	}
	manager := e.managerPID()
	out = e.mustRun("down")
	if !strings.Contains(out, "stopped") {
		t.Errorf("down printed %q, want it to say stopped", out)
	}
	if alive(manager) && !zombie(manager) { // exited, waiting for its parent to reap it
		t.Errorf("manager pid %d still alive after down", manager)
	}
	for _, port := range e.ports {
		if alive(st[port].PID) || testnet.PortOpen(port) {
			t.Errorf("port %d: pid %d or the port survived down", port, st[port].PID)
		}
	}
}

func TestSecondUpSaysAlreadyRunning(t *testing.T) {
	e := newEnv(t, 1, "")
	e.mustRun("up", "-d")
	_, errOut, code := e.run("up", "-d")
	want := "already running (pid " + strconv.Itoa(e.managerPID()) + ")"
	if code != 1 || !strings.Contains(errOut, want) {
		t.Fatalf("second up: exit %d, stderr %q; want exit 1 and %q", code, errOut, want)
	}
	// The foreground form says the same.
	if _, errOut, code := e.run("up"); code != 1 || !strings.Contains(errOut, want) {
		t.Fatalf("second foreground up: exit %d, stderr %q; want exit 1 and %q", code, errOut, want)
	}
}

func TestUpRefusesATakenPortAndStartsNothing(t *testing.T) {
	e := newEnv(t, 3, "")
	taken, err := net.Listen("tcp", ":"+strconv.Itoa(e.ports[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, errOut, code := e.run("up", "-d")
	want := "port " + strconv.Itoa(e.ports[1]) + " is already in use by"
	if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "(pid "+strconv.Itoa(os.Getpid())+")") {
		t.Fatalf("up with a taken port: exit %d, stderr %q; want exit 1, %q and this test's pid", code, errOut, want)
	}
	for _, port := range []int{e.ports[0], e.ports[2]} {
		if testnet.PortOpen(port) {
			t.Errorf("port %d is open: up started something", port)
		}
	}
	if pid := e.managerPID(); pid != 0 && alive(pid) {
		t.Errorf("a manager (pid %d) is running", pid)
	}
}

func TestForegroundUpPrefixesOutputAndStopsOnSIGTERM(t *testing.T) {
	e := newEnv(t, 2, "")
	cmd := e.command("up")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	seen := readUntil(t, lines, "PORT")
	pids := e.pids()
	if _, err := testnet.Get(e.ports[0]); err != nil {
		t.Fatalf("port %d: %v", e.ports[0], err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	for l := range lines {
		seen = append(seen, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("foreground up after SIGTERM: %v, want exit 0", err)
	}
	prefix := strconv.Itoa(e.ports[0]) + " | "
	if !containsPrefix(seen, prefix) {
		t.Errorf("no output line prefixed %q in:\n%s", prefix, strings.Join(seen, "\n"))
	}
	for port, pid := range pids {
		if alive(pid) || testnet.PortOpen(port) {
			t.Errorf("port %d: pid %d or the port survived SIGTERM", port, pid)
		}
	}
}

func readUntil(t *testing.T, lines <-chan string, prefix string) []string {
	t.Helper()
	var seen []string
	timeout := time.After(15 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("output ended before a line starting %q:\n%s", prefix, strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if strings.HasPrefix(l, prefix) {
				return seen
			}
		case <-timeout:
			t.Fatalf("no line starting %q within 15s:\n%s", prefix, strings.Join(seen, "\n"))
		}
	}
}

func containsPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func TestKilledManagerLeavesNothingAndUpStartsAgain(t *testing.T) {
	e := newEnv(t, 2, "")
	e.mustRun("up", "-d")
	pids := e.pids()
	manager := e.managerPID()
	syscall.Kill(manager, syscall.SIGKILL)
	testnet.WaitFor(t, "every instance and port to be gone", 2*time.Second, func() bool {
		for port, pid := range pids {
			if (alive(pid) && !zombie(pid)) || testnet.PortOpen(port) {
				return false
			}
		}
		return true
	})
	// The pid file and socket are stale now; up must replace them.
	e.mustRun("up", "-d")
	for _, port := range e.ports {
		if _, err := testnet.Get(port); err != nil {
			t.Errorf("port %d after the second up: %v", port, err)
		}
	}
}

func TestKilledInstanceIsRestartedAndCounted(t *testing.T) {
	e := newEnv(t, 2, "")
	e.mustRun("up", "-d")
	before := e.statuses()
	victim := e.ports[0]
	syscall.Kill(before[victim].PID, syscall.SIGKILL)
	testnet.WaitFor(t, "a new ready instance", 5*time.Second, func() bool {
		s := e.statuses()[victim]
		return s.State == "ready" && s.PID != before[victim].PID
	})
	after := e.statuses()
	if got := after[victim]; got.Restarts != 1 || got.ByReason["killed"] != 1 {
		t.Errorf("port %d: restarts %d %v, want 1 killed", victim, got.Restarts, got.ByReason)
	}
	if other := e.ports[1]; after[other].PID != before[other].PID {
		t.Errorf("port %d: pid changed %d -> %d, but only port %d was killed", other, before[other].PID, after[other].PID, victim)
	}
	if _, err := testnet.Get(victim); err != nil {
		t.Errorf("port %d after restart: %v", victim, err)
	}
}

func TestStatusWithoutAManagerFails(t *testing.T) {
	e := newEnv(t, 1, "")
	_, errOut, code := e.run("status")
	if code != 1 || !strings.Contains(errOut, "no hellomgr is running for this config") {
		t.Fatalf("status: exit %d, stderr %q; want exit 1 saying no hellomgr is running", code, errOut)
	}
}

func TestControlSocketIsPrivateAndLogsArePerPort(t *testing.T) {
	e := newEnv(t, 2, "")
	e.mustRun("up", "-d")
	fi, err := os.Stat(filepath.Join(e.dir, ".hellomgr", "hellomgr.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("control socket mode %o, want 600", mode)
	}
	for _, port := range e.ports {
		log, err := os.ReadFile(filepath.Join(e.dir, "logs", strconv.Itoa(port)+".log"))
		if err != nil || !strings.Contains(string(log), "listening") {
			t.Errorf("logs/%d.log: %q, %v; want the instance's startup line", port, log, err)
		}
	}
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	e := newEnv(t, 1, "")
	if _, errOut, code := e.run("frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("unknown command: exit %d, stderr %q; want exit 2", code, errOut)
	}
}

// With stdout on /dev/null (systemd's StandardOutput=null) nothing is
// echoed: the instance writes into a pipe the manager moves into the
// port's log file (logs.Log), and its lines are there.
func TestForegroundUpIntoDevNullWritesTheLogFiles(t *testing.T) {
	e := newEnv(t, 1, "")
	cmd := e.command("up")
	null, _ := os.Open(os.DevNull)
	defer null.Close()
	cmd.Stdout = null
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	port := e.ports[0]
	testnet.WaitFor(t, "the instance to answer", 10*time.Second, func() bool { _, err := testnet.Get(port); return err == nil })
	pid := e.statuses()[port].PID
	if out, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/1", pid)); err != nil || !strings.HasPrefix(out, "pipe:") {
		t.Errorf("instance stdout is %q (%v), want the pipe its log takes", out, err)
	}
	path := filepath.Join(e.dir, "logs", strconv.Itoa(port)+".log")
	testnet.WaitFor(t, "the instance's first line in "+path, 10*time.Second, func() bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), "listening")
	})
}
