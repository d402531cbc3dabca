package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// A second signal while an upgrade runs used to kill the manager and
// every instance, with no log line: the new program did not listen yet.
// Each phase holds the upgrade at one step long enough to aim a signal at
// it: the old program's checks (an upgrade-check that takes its time),
// or the new program's start once it listens (the test binary waiting
// before it runs, see takeoverDelay). What is left between the two, the
// Go runtime's own start, is in package heldsig's comment.
type phase struct {
	name string
	// begin starts an upgrade held at the phase and returns once a
	// signal sent now lands in it.
	begin func(e *env)
}

var phases = []phase{
	{"old program's checks", func(e *env) {
		go e.run("upgrade", "--binary", e.slowChecker())
		e.waitLog("upgrade-check is taking its time")
	}},
	{"new program's start", func(e *env) {
		syscall.Kill(e.managerPID(), syscall.SIGUSR2)
		e.waitLog("running instances over to")
		time.Sleep(100 * time.Millisecond) // of the 400 ms the new program waits
	}},
}

// upgradingEnv is an env whose manager runs, ready for an upgrade held at
// a phase.
func upgradingEnv(t *testing.T) *env {
	e := newEnv(t, 2, builtIn("v1"))
	e.vars = append(e.vars, takeoverDelay+"=400ms")
	e.mustRun("up", "-d")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log:\n%s", e.managerLog())
		}
	})
	return e
}

// slowChecker is a hellomgr whose upgrade-check takes half a second.
func (e *env) slowChecker() string {
	path := filepath.Join(e.dir, "slow-checker")
	script := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = upgrade-check ]; then echo 'upgrade-check is taking its time' >> %q; sleep 0.5; fi\nexec %q \"$@\"\n",
		filepath.Join(e.dir, ".hellomgr", "hellomgr.log"), os.Args[0])
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// waitLog waits until the manager's log says what.
func (e *env) waitLog(what string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e.managerLog(), what) {
		if time.Now().After(deadline) {
			e.t.Fatalf("the manager log never said %q", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSIGHUPDuringAnUpgradeIsCarriedOutAfterIt(t *testing.T) {
	for _, ph := range phases {
		t.Run(ph.name, func(t *testing.T) {
			e := upgradingEnv(t)
			mgr, before := e.managerPID(), e.statuses()
			ph.begin(e)
			syscall.Kill(mgr, syscall.SIGHUP)
			testnet.WaitFor(t, "the upgrade and the reload", 20*time.Second, func() bool {
				if !alive(mgr) {
					t.Fatal("the manager died")
				}
				st := e.statuses()
				return e.upgradeCount() == 1 && st[e.ports[0]].Reloads == 1 && st[e.ports[1]].Reloads == 1
			})
			for port, st := range e.statuses() {
				if st.State != "ready" || st.PID == before[port].PID {
					t.Errorf("port %d: %s pid %d (was %d); want ready, replaced by the reload", port, st.State, st.PID, before[port].PID)
				}
			}
		})
	}
}

// A second SIGUSR2 is refused while the old program upgrades, or held by
// the new one and carried out once it has taken over: an upgrade after
// the upgrade. Either way every instance keeps its pid.
func TestSecondUpgradeDuringAnUpgradeIsRefusedOrQueued(t *testing.T) {
	for _, ph := range phases {
		t.Run(ph.name, func(t *testing.T) {
			e := upgradingEnv(t)
			mgr, before := e.managerPID(), e.pids()
			ph.begin(e)
			syscall.Kill(mgr, syscall.SIGUSR2)
			testnet.WaitFor(t, "the upgrade", 20*time.Second, func() bool {
				if !alive(mgr) {
					t.Fatal("the manager died")
				}
				return strings.Contains(e.managerLog(), "took over the running instances")
			})
			refusal := "upgrade refused, nothing changed: an upgrade is in progress"
			testnet.WaitFor(t, "the second SIGUSR2 refused or carried out", 20*time.Second, func() bool {
				return strings.Contains(e.managerLog(), refusal) || e.upgradeCount() == 2
			})
			time.Sleep(200 * time.Millisecond) // a third upgrade, if there were one, would show by now
			refused := strings.Contains(e.managerLog(), refusal)
			switch n := e.upgradeCount(); {
			case refused && n != 1:
				t.Errorf("second SIGUSR2 refused, but %d upgrades counted, want 1", n)
			case !refused && n != 2:
				t.Errorf("second SIGUSR2 neither refused nor carried out: %d upgrades", n)
			}
			for port, pid := range e.pids() {
				if pid != before[port] {
					t.Errorf("port %d: pid %d -> %d", port, before[port], pid)
				}
			}
		})
	}
}

func TestSIGTERMDuringAnUpgradeStopsGracefully(t *testing.T) {
	for _, ph := range phases {
		t.Run(ph.name, func(t *testing.T) {
			e := upgradingEnv(t)
			mgr, pids := e.managerPID(), e.pids()
			ph.begin(e)
			syscall.Kill(mgr, syscall.SIGTERM)
			waitGone(t, mgr)
			log := e.managerLog()
			if !strings.Contains(log, "all instances stopped") {
				t.Fatalf("no graceful stop in the manager log")
			}
			for port, pid := range pids {
				if alive(pid) {
					t.Errorf("port %d: pid %d still runs after the stop", port, pid)
				}
				if !strings.Contains(log, fmt.Sprintf(`msg="stopping -> stopped" port=%d pid=%d`, port, pid)) {
					t.Errorf("port %d: the log does not show pid %d stopped gracefully", port, pid)
				}
			}
		})
	}
}
