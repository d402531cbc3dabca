package instance_test

// The state machine and the backoff, with fake processes (internal/fakeproc)
// on the fake clock of testing/synctest: no child runs, no time is slept,
// and every delay is checked exactly. What only a real child shows
// (session, cgroup, signals, output pipe, adoption) is tested with real
// ones in the other files.

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/internal/bugs"
	"github.com/hellomgr/hellomgr/internal/fakeproc"
)

// fakeSpec returns a spec whose processes f launches, probed over TCP on
// a free loopback port (which a ready fake listens on).
func fakeSpec(t *testing.T, f *fakeproc.Launcher) instance.Spec {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return instance.Spec{
		Port:        ln.Addr().(*net.TCPAddr).Port,
		Argv:        []string{"fake"},
		Probe:       instance.Probe{Timeout: 5 * time.Second, Interval: 20 * time.Millisecond},
		StopSignal:  syscall.SIGTERM,
		StopTimeout: 5 * time.Second,
		Restart:     instance.RestartPolicy{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, ResetAfter: time.Minute},
		Launch:      f.Launch,
	}
}

// startFake starts inst, stopped again when the test ends.
func startFake(t *testing.T, inst *instance.Instance, mode instance.StartMode) {
	t.Helper()
	if err := inst.Start(context.Background(), mode); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { inst.Stop(context.Background()) })
}

// readyFake returns a started instance whose processes follow plan, and
// are ready at once.
func readyFake(t *testing.T, plan fakeproc.Plan) (*fakeproc.Launcher, *instance.Instance) {
	t.Helper()
	f := fakeproc.New()
	plan.Ready = true
	f.Default(plan)
	inst := instance.New(fakeSpec(t, f), nil)
	startFake(t, inst, instance.GiveUp)
	return f, inst
}

// checkState fails unless inst is in state want, after every goroutine
// of the bubble has come to rest.
func checkState(t *testing.T, inst *instance.Instance, when string, want instance.State) instance.Status {
	t.Helper()
	synctest.Wait()
	st := inst.Status()
	if st.State != want {
		t.Fatalf("%s: state %s, want %s", when, st.State, want)
	}
	return st
}

func TestCrashLoopBacksOffThenFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fakeproc.New()
		f.Default(fakeproc.Plan{Exit: true, ExitCode: 3})
		spec := fakeSpec(t, f)
		spec.Restart.MaxTries = 4
		inst := instance.New(spec, nil)
		err := inst.Start(context.Background(), instance.KeepTrying)
		var exit *fakeproc.ExitError
		if !errors.As(err, &exit) || exit.Code != 3 {
			t.Fatalf("start error %v, want the first failure, exit status 3", err)
		}
		// Each failure doubles the delay before the next start: 20, 40, 80 ms.
		for n, delay := range []time.Duration{20, 40, 80} {
			checkState(t, inst, "after failure "+strconv.Itoa(n+1), instance.Backoff)
			time.Sleep(delay*time.Millisecond - time.Nanosecond)
			if got := f.Launches(); got != n+1 {
				t.Fatalf("%d launches before the delay of %dms was over, want %d", got, delay, n+1)
			}
			time.Sleep(time.Nanosecond)
		}
		st := checkState(t, inst, "after 4 failures", instance.Failed)
		if st.Restarts["not-ready"] != 3 || !strings.Contains(st.LastError, "gave up after 4 failed starts in a row: exited before ready: exit status 3") {
			t.Fatalf("restarts %v, last error %q; want 3 restarts and a give-up message", st.Restarts, st.LastError)
		}
		if got := f.Launches(); got != 4 {
			t.Fatalf("%d launches, want 4", got)
		}
	})
}

func TestStopDuringBackoffStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fakeproc.New()
		f.Default(fakeproc.Plan{Exit: true, ExitCode: 3})
		spec := fakeSpec(t, f)
		spec.Restart.Initial, spec.Restart.Max = time.Hour, time.Hour
		inst := instance.New(spec, nil)
		inst.Start(context.Background(), instance.KeepTrying)
		checkState(t, inst, "after the failed start", instance.Backoff)
		if err := inst.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkState(t, inst, "after stop", instance.Stopped)
		if got := f.Stopped(); len(got) != 0 {
			t.Fatalf("stop signal sent to %v, want none: nothing ran", got)
		}
	})
}

// A process that never answers is killed, through the seam, once the
// probe timeout is over, not a moment sooner.
func TestStartFailsWhenNeverReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fakeproc.New() // never ready
		spec := fakeSpec(t, f)
		spec.Probe.Timeout = 300 * time.Millisecond
		inst := instance.New(spec, nil)
		begun := time.Now()
		err := inst.Start(context.Background(), instance.GiveUp)
		if err == nil || !strings.Contains(err.Error(), "not ready within 300ms") {
			t.Fatalf("start error %v, want one saying it was not ready within 300ms", err)
		}
		if waited := time.Since(begun); waited != spec.Probe.Timeout {
			t.Errorf("start failed after %s, want exactly the probe timeout %s", waited, spec.Probe.Timeout)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("start error %v does not wrap the probe's deadline", err)
		}
		st := inst.Status()
		if st.State != instance.Failed || st.PID != 0 {
			t.Fatalf("state %s pid %d, want failed with no process", st.State, st.PID)
		}
		if started, killed := f.Started(), f.Killed(); len(killed) != 1 || killed[0] != started[0] {
			t.Fatalf("killed %v, want the one started, %v", killed, started)
		}
	})
}

func TestStartAgainAfterStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, inst := readyFake(t, fakeproc.Plan{})
		first := inst.Status().PID
		inst.Stop(context.Background())
		startFake(t, inst, instance.GiveUp)
		if pid := inst.Status().PID; pid == first || pid == 0 {
			t.Fatalf("pid after restart %d, want a new one (first was %d)", pid, first)
		}
		if got := f.Stopped(); len(got) != 1 || got[0] != first {
			t.Fatalf("stop signal sent to %v, want only the first pid %d", got, first)
		}
	})
}

// A process that ignores the stop signal is killed at the stop timeout,
// and the instance is stopping until then.
func TestStopKillsAProcessThatIgnoresTheSignalAtTheTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fakeproc.New()
		f.Default(fakeproc.Plan{Ready: true, IgnoreStop: true})
		spec := fakeSpec(t, f)
		spec.StopTimeout = 200 * time.Millisecond
		inst := instance.New(spec, nil)
		startFake(t, inst, instance.GiveUp)
		pid := inst.Status().PID
		begun := time.Now()
		stopped := inst.StopAsync()
		time.Sleep(spec.StopTimeout - time.Nanosecond)
		checkState(t, inst, "just before the stop timeout", instance.Stopping)
		<-stopped
		if waited := time.Since(begun); waited != spec.StopTimeout {
			t.Errorf("stopped after %s, want exactly the stop timeout %s", waited, spec.StopTimeout)
		}
		if st := inst.Status(); st.State != instance.Stopped || st.LastExitCode != -1 {
			t.Fatalf("state %s exit code %d, want stopped after SIGKILL (-1)", st.State, st.LastExitCode)
		}
		if s, k := f.Stopped(), f.Killed(); len(s) != 1 || s[0] != pid || len(k) != 1 || k[0] != pid {
			t.Fatalf("stopped %v, killed %v; want pid %d in both", s, k, pid)
		}
	})
}

// A process that drains is waited for, and never killed.
func TestStopWaitsForAProcessThatDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, inst := readyFake(t, fakeproc.Plan{StopDelay: 150 * time.Millisecond})
		begun := time.Now()
		if err := inst.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(begun); waited != 150*time.Millisecond {
			t.Errorf("stopped after %s, want the 150ms the process took", waited)
		}
		if st := inst.Status(); st.State != instance.Stopped || st.LastExitCode != 0 {
			t.Fatalf("state %s exit code %d, want stopped with 0", st.State, st.LastExitCode)
		}
		if k := f.Killed(); len(k) != 0 {
			t.Fatalf("killed %v, want none", k)
		}
	})
}

// An unasked exit of a ready process is counted by its reason and
// restarted after the backoff, which a long enough run resets; OnRestart
// hears of it.
func TestUnaskedExitsAreCountedByReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fakeproc.New()
		f.Default(fakeproc.Plan{Ready: true})
		spec := fakeSpec(t, f)
		spec.Restart.ResetAfter = time.Second
		var heard []string
		spec.OnRestart = func(_ *instance.Instance, pid int, reason string) { heard = append(heard, reason) }
		inst := instance.New(spec, nil)
		startFake(t, inst, instance.GiveUp)
		var before []instance.Status // one snapshot before each exit
		for _, c := range []struct {
			end          func(p *fakeproc.Process)
			reason, last string
			code         int
		}{
			{(*fakeproc.Process).Kill, "killed", "exited: signal: killed", -1},
			{func(p *fakeproc.Process) { p.Exit(2) }, "crashed", "exited: exit status 2", 2},
			{func(p *fakeproc.Process) { p.Exit(0) }, "exited", "exited: exit status 0", 0},
		} {
			time.Sleep(spec.Restart.ResetAfter) // a run this long restarts after the first delay
			before = append(before, inst.Status())
			old := before[len(before)-1].PID
			c.end(f.Process(old))
			st := checkState(t, inst, c.reason, instance.Backoff)
			if st.Restarts[c.reason] != 1 || st.LastError != c.last || st.LastExitCode != c.code {
				t.Errorf("%s: restarts %v, last error %q, exit code %d; want %s: 1, %q, %d", c.reason, st.Restarts, st.LastError, st.LastExitCode, c.reason, c.last, c.code)
			}
			time.Sleep(spec.Restart.Initial)
			if st := checkState(t, inst, "after the backoff", instance.Ready); st.PID == old {
				t.Fatalf("%s: still pid %d, want a new process", c.reason, old)
			}
		}
		if want := "killed crashed exited"; strings.Join(heard, " ") != want {
			t.Errorf("OnRestart heard %v, want %s", heard, want)
		}
		// Snapshots share the restart counts, and a later restart does
		// not change what an earlier snapshot says.
		for n, st := range before {
			if got := st.RestartCount(); got != uint64(n) {
				t.Errorf("snapshot before exit %d counts %d restarts (%v), want %d", n+1, got, st.Restarts, n)
			}
		}
	})
}

var errSpawn = errors.New("start fake: fork/exec fake: no such file or directory")

// A spawn that fails is a failed start with no process: backoff, then
// the next start succeeds.
func TestSpawnFailureBacksOffThenStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fakeproc.New()
		f.Queue(fakeproc.Plan{SpawnError: errSpawn})
		f.Default(fakeproc.Plan{Ready: true})
		spec := fakeSpec(t, f)
		inst := instance.New(spec, nil)
		t.Cleanup(func() { inst.Stop(context.Background()) })
		err := inst.Start(context.Background(), instance.KeepTrying)
		if !errors.Is(err, errSpawn) {
			t.Fatalf("start error %v, want the spawn's", err)
		}
		st := checkState(t, inst, "after the failed spawn", instance.Backoff)
		if st.PID != 0 || st.LastError != errSpawn.Error() || st.Restarts["not-ready"] != 1 || st.LastExitCode != -1 {
			t.Fatalf("pid %d, last error %q, restarts %v, exit code %d; want no pid, the spawn's error, not-ready: 1, -1", st.PID, st.LastError, st.Restarts, st.LastExitCode)
		}
		time.Sleep(spec.Restart.Initial)
		st = checkState(t, inst, "after the backoff", instance.Ready)
		if started := f.Started(); f.Launches() != 2 || len(started) != 1 || st.PID != started[0] {
			t.Fatalf("%d launches, started %v, pid %d; want 2 launches, the second ready", f.Launches(), started, st.PID)
		}
	})
}

// Under GiveUp, a spawn that fails leaves the instance failed, and Start
// returns a *StartError with the cause.
func TestSpawnFailureUnderGiveUpIsAStartError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fakeproc.New()
		f.Default(fakeproc.Plan{SpawnError: errSpawn})
		spec := fakeSpec(t, f)
		inst := instance.New(spec, nil)
		err := inst.Start(context.Background(), instance.GiveUp)
		var se *instance.StartError
		if !errors.As(err, &se) || se.Port != spec.Port || se.PID != 0 || se.Err != errSpawn {
			t.Fatalf("start error %#v, want a *StartError for port %d, no pid, the spawn's error", err, spec.Port)
		}
		if want := "instance " + strconv.Itoa(spec.Port) + " " + errSpawn.Error(); err.Error() != want {
			t.Errorf("start error %q, want %q", err, want)
		}
		checkState(t, inst, "after the failed spawn", instance.Failed)
		time.Sleep(time.Hour)
		if n := f.Launches(); n != 1 {
			t.Errorf("%d launches, want 1: a failed instance is not restarted", n)
		}
	})
}

// A Freeze of a fake process is refused: only a real child can be handed
// over to the next manager program.
func TestFreezeRefusesAFakeProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, inst := readyFake(t, fakeproc.Plan{})
		h, _, err := inst.Freeze()
		if err == nil || h != nil || !strings.Contains(err.Error(), "cannot be handed over") {
			t.Fatalf("freeze: handover %v, error %v; want it refused", h, err)
		}
		checkState(t, inst, "after the refused freeze", instance.Ready)
	})
}

// The start error carries the port, the pid, the last output, and
// unwraps to the exit. Outside a bubble: the output is a real pipe.
func TestStartErrorCarriesPortPIDOutputAndCause(t *testing.T) {
	f := fakeproc.New()
	inst := instance.New(fakeSpec(t, f), nil)
	go func() {
		p := <-f.Launched()
		p.Print("boom: config missing")
		p.Print("see /etc/app.conf")
		p.Exit(3)
	}()
	err := inst.Start(context.Background(), instance.GiveUp)
	var se *instance.StartError
	if !errors.As(err, &se) {
		t.Fatalf("start error %v, want a *StartError", err)
	}
	pid := f.Started()[0]
	if se.Port != inst.Spec().Port || se.PID != pid || se.Output != "boom: config missing\nsee /etc/app.conf" {
		t.Errorf("port %d pid %d output %q; want %d, %d and both lines", se.Port, se.PID, se.Output, inst.Spec().Port, pid)
	}
	want := "instance " + strconv.Itoa(se.Port) + " (pid " + strconv.Itoa(pid) + ") exited before ready: exit status 3\nlast output:\n  boom: config missing\n  see /etc/app.conf"
	if err.Error() != want {
		t.Errorf("start error:\n%s\nwant:\n%s", err, want)
	}
	var exit *fakeproc.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("start error %v does not unwrap to the exit, status 3", err)
	}
}

// READY=1 from a fake is believed: it comes from the pid it names.
func TestFakeSaysReadyOnTheNotifySocket(t *testing.T) {
	f := fakeproc.New()
	f.Default(fakeproc.Plan{Ready: true})
	spec := fakeSpec(t, f)
	spec.Probe.Notify = true
	inst := instance.New(spec, nil)
	startFake(t, inst, instance.GiveUp)
	if !strings.Contains(strings.Join(f.Process(inst.Status().PID).Spec().Env, " "), "NOTIFY_SOCKET=@") {
		t.Error("the fake was given no NOTIFY_SOCKET")
	}
}

func TestStartErrorText(t *testing.T) {
	cause := &exec.Error{Name: "app", Err: exec.ErrNotFound}
	for _, c := range []struct {
		e    instance.StartError
		want string
	}{
		{instance.StartError{Port: 8001, Err: cause}, "instance 8001 exec: \"app\": executable file not found in $PATH"},
		{instance.StartError{Port: 8001, PID: 42, Err: errors.New("exited before ready: exit status 1")}, "instance 8001 (pid 42) exited before ready: exit status 1"},
		{instance.StartError{Port: 8001, PID: 42, Output: "a\nb", Err: errors.New("x")}, "instance 8001 (pid 42) x\nlast output:\n  a\n  b"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
		if !errors.Is(&c.e, c.e.Err) {
			t.Errorf("%q does not unwrap to its cause", c.want)
		}
	}
}

// Defect: a process that crashes after it was ready, until restart.max_tries
// is used up, panicked the manager ("bad transition ready -> failed"),
// ending every port. It must leave only its own port failed, with
// on_failed told.
func TestCrashAfterReadyUntilMaxTriesFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fakeproc.New()
		f.Default(fakeproc.Plan{Ready: true})
		spec := fakeSpec(t, f)
		spec.Restart.MaxTries = 2
		failed := make(chan instance.State, 1)
		spec.OnFailed = func(i *instance.Instance) { failed <- i.State() }
		inst := instance.New(spec, nil)
		bugsBefore := bugs.Count()
		startFake(t, inst, instance.KeepTrying)
		for kill := 1; kill <= 2; kill++ {
			st := checkState(t, inst, "before kill "+strconv.Itoa(kill), instance.Ready)
			f.Process(st.PID).Kill()
			time.Sleep(time.Second) // past the backoff
		}
		st := checkState(t, inst, "after 2 crashes after ready", instance.Failed)
		if !strings.Contains(st.LastError, "gave up after 2 failed starts in a row") {
			t.Fatalf("last error %q, want the give-up message", st.LastError)
		}
		select {
		case s := <-failed:
			if s != instance.Failed {
				t.Fatalf("on_failed saw state %s, want failed", s)
			}
		default:
			t.Fatal("on_failed was not told")
		}
		if n := bugs.Count() - bugsBefore; n != 0 {
			t.Fatalf("%d internal errors reported, want none", n)
		}
	})
}

// Found by the generated sequences: a stop that arrives while a restart
// has spawned nothing yet (its spawn failed, the failure not yet handled)
// moved starting -> stopped, which the transition table lacked.
func TestStopWhileARestartFailedToSpawnIsNoBug(t *testing.T) {
	for n := range 20 {
		synctest.Test(t, func(t *testing.T) {
			f := fakeproc.New()
			f.Default(fakeproc.Plan{Ready: true})
			spec := fakeSpec(t, f)
			inst := instance.New(spec, nil)
			before := bugs.Count()
			startFake(t, inst, instance.KeepTrying)
			f.Queue(fakeproc.Plan{SpawnError: errors.New("fork/exec: no such file or directory")})
			f.Process(inst.Status().PID).Kill()
			synctest.Wait()                  // in backoff
			time.Sleep(spec.Restart.Initial) // the restart spawns nothing
			done := inst.StopAsync()         // a stop beside the spawn's failure
			synctest.Wait()
			<-done
			if st := inst.Status(); st.State != instance.Stopped || st.PID != 0 {
				t.Fatalf("try %d: %s pid %d after the stop, want stopped", n, st.State, st.PID)
			}
			if got := bugs.Count() - before; got != 0 {
				t.Fatalf("try %d: %d internal errors", n, got)
			}
		})
	}
}
