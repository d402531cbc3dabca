package cmd

import (
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

	"github.com/hellomgr/hellomgr/config"
)

// testChild is a config command running the test binary as a child with
// the given behaviour (see internal/testchild), plus extra env lines.
func testChild(behaviour string, env ...string) string {
	s := fmt.Sprintf("command: [%q, -test.run=^$]\nenv:\n  HELLOMGR_TEST_CHILD: %s\n", os.Args[0], behaviour)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		s += fmt.Sprintf("  %s: %q\n", k, v)
	}
	return s
}

func TestKilledInstanceUnderLoadComesBackAndTheOthersNeverFail(t *testing.T) {
	e := newEnv(t, 3, builtIn("v1"))
	e.mustRun("up", "-d")
	victim, others := e.ports[0], e.ports[1:]
	before := e.statuses()[victim]
	load := startHammer(others)
	killed := time.Now()
	syscall.Kill(before.PID, syscall.SIGKILL)
	testnet.WaitFor(t, "the killed instance to answer again", 10*time.Second, func() bool {
		body, err := testnet.Get(victim)
		return err == nil && body == "v1"
	})
	t.Logf("port %d answered again %s after SIGKILL", victim, time.Since(killed).Round(time.Millisecond))
	load.halt()
	after := e.statuses()[victim]
	if after.PID == before.PID || after.ByReason["killed"] != 1 {
		t.Errorf("port %d: pid %d -> %d, restarts %v; want a new pid and killed: 1", victim, before.PID, after.PID, after.ByReason)
	}
	if load.failed.Load() != 0 || load.ok.Load() == 0 {
		t.Errorf("other ports: %d answered, %d failed: %v", load.ok.Load(), load.failed.Load(), load.errs)
	}
}

func TestCrashLoopingInstanceBacksOffFailsAndNeverDisturbsTheOthers(t *testing.T) {
	e := newEnv(t, 3, "")
	bad := e.ports[0]
	e.writeConfig(testChild("crash-on-port", "CRASH_PORT="+strconv.Itoa(bad)) + "reload:\n  handoff: socket\n")
	// Make the retries quick and few.
	cfg, _ := os.ReadFile(e.configPath())
	os.WriteFile(e.configPath(), []byte(strings.Replace(string(cfg), "  max_backoff: 200ms\n", "  max_backoff: 200ms\n  max_tries: 4\n", 1)), 0o644)
	_, errOut, code := e.run("up", "-d")
	if code != 1 || !strings.Contains(errOut, "instance "+strconv.Itoa(bad)) || !strings.Contains(errOut, "boom: config missing") {
		t.Fatalf("up with a crashing port: exit %d, stderr %q; want exit 1 naming port %d and its output", code, errOut, bad)
	}
	healthy := e.pids()
	seen := map[string]bool{}
	testnet.WaitFor(t, "port "+strconv.Itoa(bad)+" to be failed", 10*time.Second, func() bool {
		st := e.statuses()[bad]
		seen[st.State] = true
		return st.State == "failed"
	})
	st := e.statuses()[bad]
	if st.Restarts != 3 || !strings.Contains(st.LastError, "gave up after 4") {
		t.Errorf("port %d: %d restarts, last error %q; want 3 restarts and a give-up message", bad, st.Restarts, st.LastError)
	}
	if !seen["backoff"] {
		t.Logf("backoff was not caught by polling status (states seen: %v)", seen)
	}
	for port, pid := range e.pids() {
		if port == bad {
			continue
		}
		if pid != healthy[port] {
			t.Errorf("port %d: pid %d -> %d while port %d crash-looped", port, healthy[port], pid, bad)
		}
		if _, err := testnet.Get(port); err != nil {
			t.Errorf("port %d: %v", port, err)
		}
	}
	// A failed instance's port refuses connects rather than queueing them
	// forever, so nginx fails over at once.
	if testnet.PortOpen(bad) {
		t.Errorf("port %d accepts connections although its instance has failed", bad)
	}
}

func TestSIGTERMLetsInFlightRequestsFinish(t *testing.T) {
	e := newEnv(t, 1, testChild("serve"))
	cmd := e.command("up")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	port := e.ports[0]
	testnet.WaitFor(t, "the instance to answer", 10*time.Second, func() bool { _, err := testnet.Get(port); return err == nil })
	slow := make(chan error, 1)
	go func() {
		resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/slow")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %s", resp.Status)
			}
		}
		slow <- err
	}()
	time.Sleep(200 * time.Millisecond) // the request is in flight
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-slow; err != nil {
		t.Errorf("in-flight request during SIGTERM: %v, want it answered", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("up after SIGTERM: %v, want exit 0", err)
	}
}

func TestReloadToANeverReadyCommandHaltsAndRestores(t *testing.T) {
	e := newEnv(t, 2, builtIn("v1"))
	e.mustRun("up", "-d")
	before := e.pids()
	first := min(e.ports[0], e.ports[1])
	e.writeConfig(testChild("hang") + "ready:\n  timeout: 500ms\n")
	// writeConfig already has a ready section; replace it instead.
	cfg, _ := os.ReadFile(e.configPath())
	text := strings.Replace(string(cfg), "ready:\n  timeout: 5s\n  interval: 20ms\n", "", 1)
	os.WriteFile(e.configPath(), []byte(text), 0o644)
	_, errOut, code := e.run("reload")
	if code != 1 || !strings.Contains(errOut, "reload halted at port "+strconv.Itoa(first)) || !strings.Contains(errOut, "not ready within 500ms") {
		t.Fatalf("reload to a hanging command: exit %d, stderr %q; want exit 1 naming port %d and the timeout", code, errOut, first)
	}
	for port, pid := range e.pids() {
		if port != first && pid != before[port] {
			t.Errorf("port %d: pid %d -> %d, but the rollout halted before it", port, before[port], pid)
		}
		if body, err := testnet.Get(port); err != nil || body != "v1" {
			t.Errorf("port %d: %q, %v; want the previous config's v1", port, body, err)
		}
	}
}

// ready.notify: true for an app that never says READY=1: the rollout
// halts at the first port with a message that names the cause, and the
// old instance, which was never stopped, keeps serving.
func TestReloadToAnAppThatNeverSaysReadyHalts(t *testing.T) {
	e := newEnv(t, 2, builtIn("v1"))
	e.mustRun("up", "-d")
	before := e.pids()
	e.writeConfig(testChild("serve") + "reload:\n  handoff: socket\nready:\n  notify: true\n  timeout: 500ms\n")
	_, errOut, code := e.run("reload")
	t.Logf("reload: %s", errOut)
	first := min(e.ports[0], e.ports[1])
	want := "no READY=1 within ready.timeout (500ms): does the app use NOTIFY_SOCKET?"
	if code != 1 || !strings.Contains(errOut, "reload halted at port "+strconv.Itoa(first)) || !strings.Contains(errOut, want) {
		t.Fatalf("reload: exit %d, stderr %q; want exit 1, port %d and %q", code, errOut, first, want)
	}
	checkUntouched(t, e, before)
}

// reload.handoff: socket for an app that binds its port itself: the app
// dies on "address in use", the rollout halts naming handoff: socket, and
// the port is served by the previous config again.
func TestHandoffToAnAppThatBindsItselfHalts(t *testing.T) {
	e := newEnv(t, 2, builtIn("v1"))
	e.mustRun("up", "-d")
	e.writeConfig(testChild("bind-itself") + "reload:\n  handoff: socket\n")
	_, errOut, code := e.run("reload")
	t.Logf("reload: %s", errOut)
	if code != 1 || !strings.Contains(errOut, "address already in use") || !strings.Contains(errOut, "with reload.handoff: socket hellomgr holds the port") {
		t.Fatalf("reload: exit %d, stderr %q; want exit 1 naming reload.handoff: socket", code, errOut)
	}
	for _, port := range e.ports {
		if body, err := testnet.Get(port); err != nil || body != "v1" {
			t.Errorf("port %d: %q, %v; want the previous config's v1", port, body, err)
		}
	}
}

// checkUntouched wants every port served by the same process as before.
func checkUntouched(t *testing.T, e *env, before map[int]int) {
	t.Helper()
	for port, pid := range e.pids() {
		if pid != before[port] {
			t.Errorf("port %d: pid %d -> %d, want the old instance untouched", port, before[port], pid)
		}
		if body, err := testnet.Get(port); err != nil || body != "v1" {
			t.Errorf("port %d: %q, %v; want the previous config's v1", port, body, err)
		}
	}
}

func TestReloadToAMissingBinaryChangesNothing(t *testing.T) {
	e := newEnv(t, 2, "")
	e.mustRun("up", "-d")
	before := e.pids()
	e.writeConfig("command: [/nonexistent/app, --port, \"{port}\"]\n")
	_, errOut, code := e.run("reload")
	if code != 1 || !strings.Contains(errOut, "/nonexistent/app") || !strings.Contains(errOut, "config.yaml:") {
		t.Fatalf("reload to a missing binary: exit %d, stderr %q; want exit 1 naming the file, line and binary", code, errOut)
	}
	for port, pid := range e.pids() {
		if pid != before[port] {
			t.Errorf("port %d: pid %d -> %d", port, before[port], pid)
		}
	}
}

func TestReloadAddingATakenPortChangesNothing(t *testing.T) {
	e := newEnv(t, 2, "")
	e.mustRun("up", "-d")
	before := e.pids()
	added := testnet.FreePorts(t, 1)[0]
	taken, err := net.Listen("tcp", ":"+strconv.Itoa(added))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	e.ports = append(e.ports, added)
	e.writeConfig("")
	_, errOut, code := e.run("reload")
	want := fmt.Sprintf("port %d is already in use by", added)
	if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "(pid "+strconv.Itoa(os.Getpid())+")") {
		t.Fatalf("reload adding a taken port: exit %d, stderr %q; want exit 1, %q and the holder", code, errOut, want)
	}
	after := e.pids()
	if len(after) != len(before) {
		t.Errorf("%d instances after a refused reload, want %d", len(after), len(before))
	}
	for port, pid := range before {
		if after[port] != pid {
			t.Errorf("port %d: pid %d -> %d", port, pid, after[port])
		}
	}
}

// Every broken config of the config package's table: `up` starts nothing,
// and `reload` leaves every process as it was.
func TestBrokenConfigsStartNothingAndReloadNothing(t *testing.T) {
	files, _ := filepath.Glob("../config/testdata/bad/*.yaml")
	if len(files) < 20 {
		t.Fatalf("%d broken configs in config/testdata/bad, want at least 20", len(files))
	}
	running := newEnv(t, 2, "")
	running.mustRun("up", "-d")
	before := running.pids()
	good, _ := os.ReadFile(running.configPath())
	tried := 0
	for _, f := range files {
		text, _ := os.ReadFile(f)
		if _, err := config.Parse(running.configPath(), text); err == nil {
			continue // broken only where it lies (a path relative to testdata)
		}
		tried++
		name := filepath.Base(f)
		os.WriteFile(running.configPath(), text, 0o644)
		if _, errOut, code := running.run("reload"); code != 1 || !strings.Contains(errOut, "config.yaml:") {
			t.Errorf("%s: reload exit %d, stderr %q; want exit 1 naming config.yaml and a line", name, code, errOut)
		}
		fresh := newEnv(t, 1, "")
		os.WriteFile(fresh.configPath(), text, 0o644)
		if _, errOut, code := fresh.run("up", "-d"); code != 1 || !strings.Contains(errOut, "config.yaml:") {
			t.Errorf("%s: up exit %d, stderr %q; want exit 1 naming config.yaml and a line", name, code, errOut)
		}
		if fresh.managerPID() != 0 {
			t.Errorf("%s: up left a manager behind", name)
		}
	}
	if tried < 20 {
		t.Errorf("only %d broken configs were tried, want at least 20", tried)
	}
	os.WriteFile(running.configPath(), good, 0o644)
	for port, pid := range running.pids() {
		if before[port] != pid {
			t.Errorf("port %d: pid %d -> %d after %d refused reloads", port, before[port], pid, tried)
		}
	}
}
