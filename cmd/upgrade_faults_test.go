package cmd

// Upgrades where they meet other features: maintenance, a takeover that
// fails for a reason the old program meets too, signals during the exec,
// a new binary that is not the process holding the instances.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/internal/testnet"
)

// managerLog is the manager's own log of a detached `up`.
func (e *env) managerLog() string {
	b, _ := os.ReadFile(filepath.Join(e.dir, ".hellomgr", "hellomgr.log"))
	return string(b)
}

// mustBeState fails unless port is in state want in `status --json`.
func (e *env) mustBeState(when string, port int, want string) {
	e.t.Helper()
	st, ok := e.statuses()[port]
	switch {
	case !ok:
		e.t.Fatalf("%s: port %d is not in status at all; want %s\nmanager log:\n%s", when, port, want, e.managerLog())
	case st.State != want:
		e.t.Fatalf("%s: port %d is %s, want %s", when, port, st.State, want)
	}
}

func TestUpgradeKeepsAPortStoppedForMaintenance(t *testing.T) {
	e := newEnv(t, 2, builtIn("v1"))
	e.mustRun("up", "-d")
	held, other := e.ports[0], e.ports[1]
	p := strconv.Itoa(held)
	e.mustRun("stop", p)
	e.mustRun("upgrade")
	e.mustBeState("after the upgrade", held, "stopped")
	e.mustBeState("after the upgrade", other, "ready")
	e.mustRun("reload") // a stopped port stays stopped across a reload
	e.mustBeState("after a reload", held, "stopped")
	e.mustRun("start", p)
	e.mustBeState("after start", held, "ready")
	e.mustRun("stop", p)
	e.mustRun("upgrade")
	e.mustRun("restart", p)
	e.mustBeState("after restart", held, "ready")
	if e.managerPID() == 0 || !strings.Contains(e.mustRun("status"), strconv.Itoa(other)) {
		t.Fatalf("the manager is gone\n%s", e.managerLog())
	}
}

func TestUpgradeKeepsAFailedPortFailedWithItsCounts(t *testing.T) {
	e := newEnv(t, 2, builtIn("v1")+"restart:\n  backoff: 20ms\n  max_backoff: 20ms\n  max_tries: 2\n")
	e.mustRun("up", "-d")
	bad := e.ports[0]
	for range 2 {
		pid := e.statuses()[bad].PID
		killAndWaitReplaced(t, e, bad, pid)
	}
	e.mustBeState("after 2 crashes after ready (max_tries: 2)", bad, "failed")
	before := e.statuses()[bad]
	e.mustRun("upgrade")
	after := e.statuses()[bad]
	if after.State != "failed" || after.Restarts != before.Restarts || after.LastError != before.LastError {
		t.Fatalf("after the upgrade: %s, %d restarts, %q; want failed, %d restarts, %q as before",
			after.State, after.Restarts, after.LastError, before.Restarts, before.LastError)
	}
	e.mustBeState("after the upgrade", e.ports[1], "ready")
}

// killAndWaitReplaced SIGKILLs port's process pid and waits until the
// port runs another ready process, or has given up.
func killAndWaitReplaced(t *testing.T, e *env, port, pid int) {
	t.Helper()
	syscall.Kill(pid, syscall.SIGKILL)
	testnet.WaitFor(t, "port "+strconv.Itoa(port)+" to be replaced or failed", 10*time.Second, func() bool {
		st := e.statuses()[port]
		return st.State == "failed" || (st.State == "ready" && st.PID != pid)
	})
}

// upgradeCount is the manager's count of upgrades, from status.
func (e *env) upgradeCount() int {
	e.t.Helper()
	r, err := control.Dial(e.socket()).Status(context.Background())
	if err != nil {
		e.t.Fatalf("status: %v\nmanager log:\n%s", err, e.managerLog())
	}
	return r.Upgrades
}

func TestUpgradeRefusedWhileTheNewProgramWouldRefuseAPath(t *testing.T) {
	e := newEnv(t, 2, builtIn("v1"))
	e.mustRun("up", "-d")
	before := e.pids()
	logs := filepath.Join(e.dir, "logs")
	if err := os.Chmod(logs, 0o775); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e.run("upgrade")
	if code == 0 || !strings.Contains(errOut, "upgrade refused, nothing changed") || !strings.Contains(errOut, "writable by users other than its owner") {
		t.Fatalf("upgrade with a group-writable log folder: exit %d\nstdout: %s\nstderr: %s\nwant it refused with the reason", code, out, errOut)
	}
	if n := e.upgradeCount(); n != 0 {
		t.Errorf("%d upgrades counted, want 0", n)
	}
	e.mustKeepPIDs("after a refused upgrade", before)
}

// A takeover that fails for a reason the old program meets too when it
// resumes (here the log folder made group-writable between the old
// program's checks and the new one's) used to exec back and forth for
// ever. It goes back once; the old program runs on degraded, saying why.
func TestUpgradeThatFailsForBothProgramsGoesBackOnce(t *testing.T) {
	e := newEnv(t, 2, builtIn("v1"))
	e.mustRun("up", "-d")
	manager, before := e.managerPID(), e.pids()
	logs := filepath.Join(e.dir, "logs")
	wrapper := filepath.Join(e.dir, "chmodder")
	script := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = up ]; then chmod g+w %q; fi\nexec %q \"$@\"\n", logs, os.Args[0])
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e.run("upgrade", "--binary", wrapper)
	if code != 1 || !strings.Contains(errOut, "could not take over") {
		t.Fatalf("upgrade: exit %d\nstdout: %s\nstderr: %s\nwant exit 1 with the reason\nmanager log:\n%s", code, out, errOut, e.managerLog())
	}
	if got := e.managerPID(); got != manager {
		t.Fatalf("manager pid %d -> %d", manager, got)
	}
	if n := e.upgradeCount(); n != 0 {
		t.Errorf("%d upgrades counted, want 0", n)
	}
	if execs := strings.Count(e.managerLog(), "cannot take over; going back"); execs != 1 {
		t.Errorf("went back %d times, want once", execs)
	}
	st := e.mustRun("status")
	if !strings.Contains(st, "last upgrade failed") || !strings.Contains(st, "degraded") {
		t.Errorf("status does not say the manager runs degraded after the failed upgrade:\n%s", st)
	}
	e.mustKeepPIDs("after a failed upgrade", before)
	for _, port := range e.ports {
		if body, err := testnet.Get(port); err != nil || body != "v1" {
			t.Errorf("port %d: got %q, %v; want v1", port, body, err)
		}
	}
}

// The config edited during an upgrade: both programs run the config the
// old one loaded; the edit is for the next reload.
func TestConfigEditedDuringAnUpgradeWaitsForTheReload(t *testing.T) {
	e := newEnv(t, 2, builtIn("v1"))
	e.mustRun("up", "-d")
	before := e.pids()
	wrapper := filepath.Join(e.dir, "editor")
	edited := strings.Replace(readFile(t, e.configPath()), "v1", "v2", 1)
	if err := os.WriteFile(filepath.Join(e.dir, "edited.yaml"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = up ]; then cp %q %q; fi\nexec %q \"$@\"\n", filepath.Join(e.dir, "edited.yaml"), e.configPath(), os.Args[0])
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e.mustRun("upgrade", "--binary", wrapper)
	if n := e.upgradeCount(); n != 1 {
		t.Fatalf("%d upgrades counted, want 1\nmanager log:\n%s", n, e.managerLog())
	}
	e.mustKeepPIDs("after the upgrade", before)
	e.mustRun("reload")
	for _, port := range e.ports {
		if body, err := testnet.Get(port); err != nil || body != "v2" {
			t.Errorf("port %d after the reload: got %q, %v; want v2", port, body, err)
		}
	}
}

func TestUpgradeRefusesAWrapperThatDoesNotExec(t *testing.T) {
	e := newEnv(t, 2, builtIn("v1"))
	e.mustRun("up", "-d")
	before := e.pids()
	wrapper := filepath.Join(e.dir, "wrapper")
	if err := os.WriteFile(wrapper, []byte(fmt.Sprintf("#!/bin/sh\n%q \"$@\"\n", os.Args[0])), 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e.run("upgrade", "--binary", wrapper)
	if code == 0 || !strings.Contains(errOut, "must end with exec hellomgr") {
		t.Fatalf("upgrade to a wrapper without exec: exit %d\nstdout: %s\nstderr: %s\nwant it refused", code, out, errOut)
	}
	after := e.statuses()
	for port, pid := range before {
		if after[port].PID != pid || after[port].State != "ready" {
			t.Errorf("port %d: pid %d -> %d (%s)", port, pid, after[port].PID, after[port].State)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mustKeepPIDs fails for each port whose pid is no longer the one before.
func (e *env) mustKeepPIDs(when string, before map[int]int) {
	e.t.Helper()
	for port, pid := range e.pids() {
		if pid != before[port] {
			e.t.Errorf("port %d: pid %d -> %d %s", port, before[port], pid, when)
		}
	}
}
