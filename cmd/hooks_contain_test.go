package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// hookPIDs reads the pids the on_restart hook of these tests wrote, one
// "bg PID" or "sid PID" line per process it started, and kills them (by
// pid) when the test ends, should it fail before they are gone.
func (e *env) hookPIDs() []int {
	e.t.Helper()
	b, _ := os.ReadFile(filepath.Join(e.dir, "hook-pids"))
	var pids []int
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 2 {
			if pid, err := strconv.Atoi(f[1]); err == nil {
				pids = append(pids, pid)
				e.t.Cleanup(func() {
					if !dead(pid) {
						syscall.Kill(pid, syscall.SIGKILL)
					}
				})
			}
		}
	}
	return pids
}

// hookScript writes an on_restart hook that starts a background child
// and a daemon in a session of its own, writes their pids, then does
// tail (exit, or hang).
func (e *env) hookScript(tail string) string {
	script := filepath.Join(e.dir, "on-restart.sh")
	os.WriteFile(script, []byte(fmt.Sprintf(`#!/bin/sh
sleep 300 &
echo bg $! >> %[1]s/hook-pids
setsid sleep 300 &
echo sid $! >> %[1]s/hook-pids
%[2]s
`, e.dir, tail)), 0o755)
	return script
}

// What a hook starts ends with it: a hook that exits leaving a
// background child and a daemon is logged as having run and left them,
// and they are ended, restart after restart (there was one more of each
// per restart, and the log said "hook did not run").
func TestWhatAHookStartsEndsWithIt(t *testing.T) {
	e := newEnv(t, 1, "")
	e.writeConfig(builtIn("v1") + fmt.Sprintf("hooks:\n  on_restart: [%q]\n  timeout: 20s\n", e.hookScript("exit 0")))
	e.mustRun("up", "-d")
	logFile := filepath.Join(e.dir, ".hellomgr", "hellomgr.log")
	for restart := 1; restart <= 2; restart++ {
		e.kill9Ready()
		testnet.WaitFor(t, fmt.Sprintf("hook %d to be logged", restart), 20*time.Second, func() bool {
			b, _ := os.ReadFile(logFile)
			return strings.Count(string(b), "hook ran, and left 2 processes running, which were ended") == restart
		})
	}
	pids := e.hookPIDs()
	if len(pids) != 4 {
		t.Fatalf("the hooks wrote %d pids, want 4 (2 per run)", len(pids))
	}
	for _, pid := range pids {
		if !dead(pid) {
			t.Errorf("pid %d, started by a hook that ended, still runs", pid)
		}
	}
	if b, _ := os.ReadFile(logFile); strings.Contains(string(b), "did not run") {
		t.Errorf("the log says a hook did not run:\n%s", b)
	}
}

// A hook still running at `down` is ended with everything it started,
// the daemon in its own session too, and down says so in the log.
func TestDownEndsARunningHookAndWhatItStarted(t *testing.T) {
	e := newEnv(t, 1, "")
	e.writeConfig(builtIn("v1") + fmt.Sprintf("hooks:\n  on_restart: [%q]\n  timeout: 300s\n", e.hookScript("exec sleep 300")))
	e.mustRun("up", "-d")
	e.kill9Ready()
	testnet.WaitFor(t, "the hook to start its children", 20*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(e.dir, "hook-pids"))
		return strings.Count(string(b), "\n") == 2
	})
	pids := e.hookPIDs()
	manager := e.managerPID()
	e.mustRun("down")
	waitGone(t, manager)
	for _, pid := range pids {
		if !dead(pid) {
			t.Errorf("pid %d, started by a hook, still runs after down", pid)
		}
	}
	b, _ := os.ReadFile(filepath.Join(e.dir, ".hellomgr", "hellomgr.log"))
	if !strings.Contains(string(b), "hook ended before it finished, as the manager stops or replaces its program, with 2 processes it started") {
		t.Errorf("the log does not say the hook was ended:\n%s", b)
	}
}

// kill9Ready waits for the env's first port to be ready, then kills its
// instance with SIGKILL (never pid 0: that would be the test's own group).
func (e *env) kill9Ready() {
	e.t.Helper()
	var pid int
	testnet.WaitFor(e.t, "the instance to be ready", 20*time.Second, func() bool {
		st := e.statuses()[e.ports[0]]
		pid = st.PID
		return st.State == "ready" && pid > 0
	})
	syscall.Kill(pid, syscall.SIGKILL)
}
