package cmd

// Upgrades where they meet other features: maintenance, a takeover that
// fails for a reason the old program meets too, signals during the exec,
// a new binary that is not the process holding the instances.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
