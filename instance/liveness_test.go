package instance

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type unhealthy struct {
	pid    int
	reason string
}

// watched returns a spec whose OnUnhealthy sends on the returned channel.
func watched(t *testing.T, behaviour string) (Spec, <-chan unhealthy) {
	spec := newSpec(t, behaviour)
	reports := make(chan unhealthy, 16)
	spec.OnUnhealthy = func(i *Instance, reason string) { reports <- unhealthy{i.Status().PID, reason} }
	return spec, reports
}

func waitReport(t *testing.T, reports <-chan unhealthy, what string) unhealthy {
	t.Helper()
	select {
	case u := <-reports:
		return u
	case <-time.After(20 * time.Second):
		t.Fatalf("no report of %s within 20s", what)
	}
	return unhealthy{}
}

// A frozen process (SIGSTOP) still completes connects on its handed-off
// socket (the kernel queues them), but never answers: its liveness probes
// time out, and after Failures of them in a row it is reported, once. A
// stop then thaws it (SIGCONT after the stop signal), so it drains and
// exits 0 rather than waiting for SIGKILL.
func TestLivenessReportsAFrozenProcessAndStopThawsIt(t *testing.T) {
	spec, reports := watched(t, "serve")
	spec.Liveness = Liveness{HTTPPath: "/", Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond, Failures: 3}
	inst := New(spec, nil)
	startOrFail(t, inst, GiveUp)
	pid := inst.Status().PID
	frozen := time.Now()
	syscall.Kill(pid, syscall.SIGSTOP)
	u := waitReport(t, reports, "a frozen process")
	t.Logf("frozen pid %d reported %s after SIGSTOP", pid, time.Since(frozen).Round(time.Millisecond))
	st := inst.Status()
	if u.pid != pid || u.reason != ReasonLiveness || st.State != Ready || !strings.Contains(st.LastError, "3 liveness probes in a row failed") {
		t.Errorf("report %+v, status %s %q; want pid %d, reason liveness, still ready, the cause in the last error", u, st.State, st.LastError, pid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := inst.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if st := inst.Status(); st.LastExitCode != 0 {
		t.Errorf("frozen process stopped with exit code %d, want 0 (thawed, then drained on SIGTERM)", st.LastExitCode)
	}
	select {
	case u := <-reports:
		t.Errorf("a second report after the stop: %+v", u)
	default:
	}
}

// A healthy instance is never reported, however many probes it answers;
// a stopped one is no longer probed.
func TestLivenessLeavesAHealthyInstanceAlone(t *testing.T) {
	spec, reports := watched(t, "serve")
	// 50 failures in a row from a healthy server would take a stall of
	// the machine of about a second; one that loses a race does not count.
	spec.Liveness = Liveness{HTTPPath: "/", Interval: 20 * time.Millisecond, Timeout: 19 * time.Millisecond, Failures: 50}
	inst := New(spec, nil)
	startOrFail(t, inst, GiveUp)
	time.Sleep(time.Second) // about 50 probes
	if body := get(t, spec.Port); !strings.HasPrefix(body, "pid ") {
		t.Errorf("port %d: got %q, want the server's answer", spec.Port, body)
	}
	inst.Stop(context.Background())
	select {
	case u := <-reports:
		t.Errorf("healthy instance reported: %+v", u)
	default:
	}
	if n := sharers.count(spec.Listener); n != 0 {
		t.Errorf("%d processes counted on the socket after the stop, want 0", n)
	}
}

// The processes started on one handed-off socket are counted, so that a
// probe is made only while one process serves the port.
func TestSharersCountTheProcessesOfASocket(t *testing.T) {
	spec := newSpec(t, "serve")
	a, b := New(spec, nil), New(spec, nil)
	startOrFail(t, a, GiveUp)
	if n := sharers.count(spec.Listener); n != 1 {
		t.Errorf("one instance: %d sharers, want 1", n)
	}
	startOrFail(t, b, GiveUp)
	if n := sharers.count(spec.Listener); n != 2 {
		t.Errorf("two instances side by side: %d sharers, want 2", n)
	}
	a.Stop(context.Background())
	if n := sharers.count(spec.Listener); n != 1 {
		t.Errorf("after the old one stopped: %d sharers, want 1", n)
	}
}

// An instance whose processes grow past the limit is reported with
// ReasonMemory, with or without a cgroup (sampled here: the memory
// controller is not there for the instances' cgroups on this machine; the
// log of the test says which).
func TestMemoryLimitReportsAnInstanceThatGrows(t *testing.T) {
	for _, withCgroup := range []bool{false, true} {
		t.Run("cgroup="+strconv.FormatBool(withCgroup), func(t *testing.T) {
			spec, reports := watched(t, "grow-memory")
			spec.Probe.Notify = true
			spec.MemoryLimit = 200 << 20 // above the test binary's own, race detector included
			once := filepath.Join(t.TempDir(), "grown")
			spec.Env = append(spec.Env, "GROW_PORT="+strconv.Itoa(spec.Port), "GROW_MB=320", "GROW_ONCE="+once)
			if withCgroup {
				spec.Cgroup = newTree(t)
			}
			inst := New(spec, nil)
			startOrFail(t, inst, GiveUp)
			u := waitReport(t, reports, "a process over its memory limit")
			st := inst.Status()
			if u.reason != ReasonMemory || !strings.Contains(st.LastError, "over limits.memory 200 MiB") {
				t.Errorf("report %+v, last error %q; want reason memory and the sizes", u, st.LastError)
			}
			t.Logf("%s", st.LastError)
		})
	}
}

// OnRestart hears of an unasked exit with the pid that exited and why.
func TestOnRestartHearsOfACrash(t *testing.T) {
	spec := newSpec(t, "serve")
	type restart struct {
		pid    int
		reason string
		state  State
	}
	restarts := make(chan restart, 4)
	spec.OnRestart = func(i *Instance, pid int, reason string) { restarts <- restart{pid, reason, i.Status().State} }
	inst := New(spec, nil)
	startOrFail(t, inst, GiveUp)
	pid := inst.Status().PID
	syscall.Kill(pid, syscall.SIGKILL)
	select {
	case r := <-restarts:
		if r.pid != pid || r.reason != "killed" || r.state != Backoff {
			t.Errorf("OnRestart(%d, %q) in state %s; want pid %d, killed, backoff", r.pid, r.reason, r.state, pid)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnRestart not called within 10s of a SIGKILL")
	}
}

func TestEventCount(t *testing.T) {
	b := []byte("low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n")
	if n := eventCount(b, "oom_kill"); n != 1 {
		t.Errorf("oom_kill: got %d, want 1", n)
	}
	if n := eventCount(b, "max"); n != 12 {
		t.Errorf("max: got %d, want 12", n)
	}
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip(err)
	}
}
