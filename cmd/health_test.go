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

// liveness is a liveness section that finds a frozen instance within
// about interval x failures.
const liveness = "liveness:\n  http: /\n  interval: 200ms\n  timeout: 150ms\n  failures: 3\n"

// A frozen instance (SIGSTOP) of the built-in server still has its
// connects queued on the handed-off socket, but answers nothing: its
// liveness probes time out, and it is replaced as `hellomgr restart`
// replaces it (handoff + READY=1: the new process starts beside it, and it
// is thawed and drains). Its port answers throughout, every request
// included that it held when it froze; the other ports keep their
// processes; status counts a restart for liveness.
func TestFrozenInstanceIsReplacedWhileItsPortServes(t *testing.T) {
	e := newEnv(t, 3, builtIn("v1")+liveness)
	if out := e.mustRun("check"); !strings.Contains(out, "liveness: GET / every 200ms (timeout 150ms); 3 failed in a row replace the instance") {
		t.Errorf("check does not say how the instances are probed:\n%s", out)
	}
	e.mustRun("up", "-d")
	before := e.pids()
	victim := e.ports[0]
	load := startHammer(e.ports)
	testnet.WaitFor(t, "some load", 10*time.Second, func() bool { return load.ok.Load() > 100 })
	frozen := time.Now()
	syscall.Kill(before[victim], syscall.SIGSTOP)
	var replaced time.Duration
	testnet.WaitFor(t, "the frozen instance to be replaced", 20*time.Second, func() bool {
		st := e.statuses()[victim]
		replaced = time.Since(frozen)
		return st.PID != before[victim] && st.PID != 0 && st.State == "ready"
	})
	testnet.WaitFor(t, "the replacement to be counted", 20*time.Second, func() bool {
		return e.statuses()[victim].ByReason["liveness"] == 1
	})
	served := load.ok.Load()
	testnet.WaitFor(t, "load after the replacement", 10*time.Second, func() bool { return load.ok.Load() > served+100 })
	load.halt()
	// The manager log (-v) times the replacement itself; this includes
	// running `hellomgr status` until it shows.
	t.Logf("SIGSTOP at %s", frozen.UTC().Format("15:04:05.000"))
	t.Logf("port %d: status showed a new pid %s after SIGSTOP (liveness every 200ms, 3 failures); %d requests answered, %d failed",
		victim, replaced.Round(time.Millisecond), load.ok.Load(), load.failed.Load())
	waitGone(t, before[victim])
	if testing.Verbose() {
		b, _ := os.ReadFile(filepath.Join(e.dir, ".hellomgr", "hellomgr.log"))
		t.Logf("manager log:\n%s", b)
	}
	after := e.statuses()
	if st := after[victim]; st.Restarts != 1 || st.Reloads != 0 || !strings.Contains(st.LastError, "liveness probes in a row failed") {
		t.Errorf("port %d: restarts %d %v, reloads %d, last error %q; want 1 restart for liveness, no reload, the cause", victim, st.Restarts, st.ByReason, st.Reloads, st.LastError)
	}
	for _, port := range e.ports[1:] {
		if after[port].PID != before[port] {
			t.Errorf("port %d: pid %d -> %d, want it untouched", port, before[port], after[port].PID)
		}
	}
	if load.failed.Load() != 0 {
		t.Errorf("%d requests failed while port %d was frozen and replaced, want 0: %v", load.failed.Load(), victim, load.errs[:min(len(load.errs), 5)])
	}
}

// An instance whose app grows past limits.memory is replaced, with reason
// memory; the others keep their processes.
func TestInstanceOverItsMemoryLimitIsReplaced(t *testing.T) {
	e := newEnv(t, 3, "")
	victim := e.ports[1]
	e.writeConfig(testChild("grow-memory", "GROW_PORT="+strconv.Itoa(victim), "GROW_MB=256", "GROW_ONCE="+filepath.Join(e.dir, "grown")) +
		"reload:\n  handoff: socket\nready:\n  notify: true\n  timeout: 5s\nlimits:\n  memory: 128MiB\n")
	out := e.mustRun("check")
	if !strings.Contains(out, "memory limit: 128 MiB per instance, by ") {
		t.Errorf("check does not say how the memory limit is kept:\n%s", out)
	}
	t.Logf("check: %s", out[strings.Index(out, "memory limit"):])
	e.mustRun("up", "-d")
	before := e.pids()
	// The victim may be replaced before `up -d` returns: what tells is the
	// restart counted for memory, not a pid seen before.
	testnet.WaitFor(t, "the growing instance to be replaced", 30*time.Second, func() bool {
		st := e.statuses()[victim]
		return st.State == "ready" && st.ByReason["memory"] == 1
	})
	after := e.statuses()
	t.Logf("port %d: %s", victim, after[victim].LastError)
	if !strings.Contains(after[victim].LastError, "over limits.memory 128 MiB") {
		t.Errorf("port %d: last error %q, want the memory over the limit", victim, after[victim].LastError)
	}
	for _, port := range e.ports {
		if port != victim && after[port].PID != before[port] {
			t.Errorf("port %d: pid %d -> %d, want it untouched", port, before[port], after[port].PID)
		}
	}
}

// on_restart runs with the event in its environment; a hook that hangs
// is killed at hooks.timeout and logged once, and never holds up
// supervision: while it hangs, another port's instance is killed and
// comes back, and its own hook runs.
func TestHooksRunWithTheEventAndAHangingOneNeverHoldsUpSupervision(t *testing.T) {
	e := newEnv(t, 2, "")
	hanging, other := e.ports[0], e.ports[1]
	script := filepath.Join(e.dir, "on-restart.sh")
	os.WriteFile(script, []byte(fmt.Sprintf(`#!/bin/sh
env | grep -E '^(PORT|PID|STATE|REASON|LAST_EXIT)=' | sort > "%s/restart-$PORT.env"
[ "$PORT" = %d ] && exec sleep 300
exit 0
`, e.dir, hanging)), 0o755)
	e.writeConfig(builtIn("v1") + fmt.Sprintf("hooks:\n  on_restart: [%q]\n  timeout: 3s\n", script))
	e.mustRun("up", "-d")
	before := e.pids()

	syscall.Kill(before[hanging], syscall.SIGKILL)
	testnet.WaitFor(t, "the hook of the killed port to start", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(e.dir, fmt.Sprintf("restart-%d.env", hanging)))
		return err == nil
	})
	// Its hook hangs; supervision goes on.
	killed := time.Now()
	syscall.Kill(before[other], syscall.SIGKILL)
	testnet.WaitFor(t, "the other killed port to answer again", 10*time.Second, func() bool {
		body, err := testnet.Get(other)
		return err == nil && body == "v1"
	})
	t.Logf("port %d answered again %s after SIGKILL, while port %d's hook hung", other, time.Since(killed).Round(time.Millisecond), hanging)
	envFile := filepath.Join(e.dir, fmt.Sprintf("restart-%d.env", other))
	testnet.WaitFor(t, "the other port's hook", 10*time.Second, func() bool {
		b, _ := os.ReadFile(envFile)
		return strings.Contains(string(b), "STATE=")
	})
	got, _ := os.ReadFile(envFile)
	want := fmt.Sprintf("LAST_EXIT=-1\nPID=%d\nPORT=%d\nREASON=killed\nSTATE=backoff\n", before[other], other)
	if string(got) != want {
		t.Errorf("on_restart environment:\n%s\nwant:\n%s", got, want)
	}

	logFile := filepath.Join(e.dir, ".hellomgr", "hellomgr.log")
	const killedLine = "hook killed after its timeout of 3s"
	testnet.WaitFor(t, "the hanging hook to be killed", 20*time.Second, func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), killedLine)
	})
	b, _ := os.ReadFile(logFile)
	if n := strings.Count(string(b), killedLine); n != 1 {
		t.Errorf("%d log lines say the hook was killed, want 1:\n%s", n, b)
	}
	for port, st := range e.statuses() {
		if st.State != "ready" || st.ByReason["killed"] != 1 {
			t.Errorf("port %d: %s, restarts %v; want ready after 1 restart (killed)", port, st.State, st.ByReason)
		}
	}
}

// Defect: replacements for liveness or memory had no backoff and no cap:
// an app that leaks at every start was replaced every second for ever,
// never failed, and on_failed never ran. Unhealthy replacements in a row
// back off and give up after restart.max_tries, as crashes do.
func TestAnInstanceUnhealthyAtEveryStartGivesUp(t *testing.T) {
	e := newEnv(t, 2, "")
	victim, other := e.ports[0], e.ports[1]
	marker := filepath.Join(e.dir, "failed.env")
	e.writeConfig(testChild("grow-memory", "GROW_PORT="+strconv.Itoa(victim), "GROW_MB=256", "GROW_ONCE=always") +
		"reload:\n  handoff: socket\nready:\n  notify: true\n  timeout: 5s\nlimits:\n  memory: 128MiB\n" +
		"restart:\n  backoff: 20ms\n  max_backoff: 100ms\n  max_tries: 3\n" +
		fmt.Sprintf("hooks:\n  on_failed: [sh, -c, 'env | grep -E \"^(PORT|REASON)=\" | sort > %s']\n", marker))
	e.mustRun("up", "-d")
	otherPID := e.statuses()[other].PID
	testnet.WaitFor(t, "the leaking port to give up", 30*time.Second, func() bool {
		return e.statuses()[victim].State == "failed"
	})
	st := e.statuses()[victim]
	if !strings.Contains(st.LastError, "gave up after 3 unhealthy replacements in a row (memory)") {
		t.Errorf("port %d: last error %q, want the give-up", victim, st.LastError)
	}
	testnet.WaitFor(t, "on_failed to run", 10*time.Second, func() bool {
		b, _ := os.ReadFile(marker)
		return strings.Contains(string(b), "PORT="+strconv.Itoa(victim)) && strings.Contains(string(b), "REASON=gave-up")
	})
	if o := e.statuses()[other]; o.PID != otherPID || o.State != "ready" {
		t.Errorf("port %d: pid %d -> %d (%s); the healthy port was touched", other, otherPID, o.PID, o.State)
	}
	time.Sleep(500 * time.Millisecond)
	if st2 := e.statuses()[victim]; st2.State != "failed" || st2.PID != 0 {
		t.Errorf("port %d after giving up: %s pid %d, want failed with no process", victim, st2.State, st2.PID)
	}
}
