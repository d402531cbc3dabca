package manager

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/internal/fakeproc"
	"github.com/hellomgr/hellomgr/internal/testnet"
)

// The rollout against fake processes (internal/fakeproc): no program
// runs, so each case takes milliseconds and can be run at every step.

// fakeSwaps are the ways a port is swapped, as a config sets them for an
// app that is not the built-in server.
var fakeSwaps = map[string]string{
	"handoff + READY=1": "reload: {handoff: socket}\nready: {notify: true, timeout: 2s}\n",
	"handoff alone":     "reload: {handoff: socket}\nready: {http: /, timeout: 2s, interval: 10ms}\n",
	"stop-then-start":   "reload: {handoff: none}\nready: {tcp: true, timeout: 2s, interval: 10ms}\n",
}

// rig is a manager of fake instances on free ports, with its config file
// in a folder of its own.
type rig struct {
	t     *testing.T
	m     *Manager
	fake  *fakeproc.Launcher
	path  string
	ports []int
	swap  string
	stop  string // stop.timeout
}

// newRig starts n fake instances, each ready at once, under swap, with
// VERSION=v1 in their environment.
func newRig(t *testing.T, swap string, n int) *rig {
	t.Helper()
	r := &rig{t: t, fake: fakeproc.New(), path: filepath.Join(shortDir(t), "config.yaml"), ports: testnet.FreePorts(t, n), swap: swap, stop: "2s"}
	slices.Sort(r.ports) // the order of Instances
	r.fake.Default(fakeproc.Plan{Ready: true})
	r.write("v1")
	cfg, err := config.Load(r.path)
	if err != nil {
		t.Fatal(err)
	}
	r.m = New(cfg, Options{})
	r.m.launch = r.fake.Launch
	if err := r.m.Prepare(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.m.Shutdown(context.Background()) })
	if err := r.m.StartAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// write makes the config file run version.
func (r *rig) write(version string) {
	r.t.Helper()
	list := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(r.ports)), ", "), "[]")
	text := fmt.Sprintf("ports: [%s]\ncommand: [/bin/true]\nenv: {VERSION: %s}\nstop: {timeout: %s}\nmetrics: {address: \"off\"}\n%s", list, version, r.stop, r.swap)
	if err := os.WriteFile(r.path, []byte(text), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// pids is the pid on each port, in the order of r.ports.
func (r *rig) pids() []int {
	var pids []int
	for _, st := range r.m.Instances() {
		pids = append(pids, st.PID)
	}
	return pids
}

// version is the VERSION the process pid was started with.
func (r *rig) version(pid int) string {
	p := r.fake.Process(pid)
	if p == nil {
		return "not a fake pid"
	}
	for _, kv := range p.Spec().Env {
		if v, ok := strings.CutPrefix(kv, "VERSION="); ok {
			return v
		}
	}
	return ""
}

// reload rolls the file out, calling at with each progress line.
func (r *rig) reload(at func(line string)) error {
	var mu sync.Mutex // a batch reports progress from several goroutines
	return r.m.Reload(context.Background(), func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		at(fmt.Sprintf(format, args...))
	})
}

// A reload replaces every port, one at a time: each new process is ready
// before the next port's old one is asked to stop, so at every step all
// ports but the one being swapped serve, and the old processes are all
// stopped in the end.
func TestReloadReplacesEveryPortOneAtATime(t *testing.T) {
	for name, swap := range fakeSwaps {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, swap, 3)
			old := r.pids()
			r.write("v2")
			var touched []int // the port of each line naming one, in order
			err := r.reload(func(line string) {
				if ready := countReady(r.m); ready < 2 {
					t.Errorf("%q: %d of 3 ports ready", line, ready)
				}
				for _, port := range r.ports {
					if strings.HasPrefix(line, fmt.Sprintf("%d: ", port)) {
						touched = append(touched, port)
					}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Compact(slices.Clone(touched)); !slices.Equal(got, r.ports) {
				t.Errorf("ports named by progress lines in turn: %v, want each of %v once, in order", touched, r.ports)
			}
			for i, pid := range r.pids() {
				if pid == old[i] || r.version(pid) != "v2" {
					t.Errorf("port %d: pid %d (%s) after the reload, was %d", r.ports[i], pid, r.version(pid), old[i])
				}
			}
			for _, pid := range old {
				<-r.fake.Process(pid).Done() // the reload waits for them: this must not block
			}
		})
	}
}

func countReady(m *Manager) int {
	n := 0
	for _, st := range m.Instances() {
		if st.State == instance.Ready {
			n++
		}
	}
	return n
}

// A replacement that fails halts the rollout there: the ports before it
// run the new config, the failed port runs the previous one again (the
// same process, when the new one started beside it), and the ports after
// it keep their processes.
func TestReloadHaltsWhereAReplacementFails(t *testing.T) {
	for name, swap := range fakeSwaps {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, swap, 3)
			old := r.pids()
			r.write("v2")
			r.fake.Queue(fakeproc.Plan{Ready: true}, fakeproc.Plan{Exit: true, ExitCode: 3})
			err := r.reload(func(string) {})
			want := fmt.Sprintf("reload halted at port %d", r.ports[1])
			var start *instance.StartError
			if err == nil || !strings.Contains(err.Error(), want) || !errors.As(err, &start) || start.Port != r.ports[1] {
				t.Fatalf("reload error %v: want %q, with the failed start of port %d", err, want, r.ports[1])
			}
			now := r.pids()
			if r.version(now[0]) != "v2" {
				t.Errorf("port %d, before the failure: %s, want v2", r.ports[0], r.version(now[0]))
			}
			if r.version(now[1]) != "v1" || countReady(r.m) != 3 {
				t.Errorf("port %d, where it failed: %s, want v1 serving (%d of 3 ready)", r.ports[1], r.version(now[1]), countReady(r.m))
			}
			if now[2] != old[2] {
				t.Errorf("port %d, after the failure: pid %d, want %d untouched", r.ports[2], now[2], old[2])
			}
		})
	}
}

// A manager told to stop during a rollout, at whatever step, ends the
// rollout, stops every process it started and refuses later rollouts; the
// rollout's caller hears why it stopped. Old processes here take a while
// to stop, so that some are still draining when the stop comes.
func TestShutdownAtEveryStepOfARolloutOfFakes(t *testing.T) {
	outcomes := map[string][]fakeproc.Plan{
		"ready":  nil,
		"halted": {{Exit: true, ExitCode: 3}},
	}
	for name, swap := range fakeSwaps {
		for outcome, plans := range outcomes {
			t.Run(name+", "+outcome, func(t *testing.T) {
				steps := stopAtStep(t, swap, plans, -1)
				for stopAt := range steps {
					stopAtStep(t, swap, plans, stopAt)
				}
			})
		}
	}
}

// stopAtStep reloads 2 fake ports to plans (then ready ones) and, when
// stopAt >= 0, shuts the manager down from the stopAt-th progress line on.
// It returns the number of progress lines.
func stopAtStep(t *testing.T, swap string, plans []fakeproc.Plan, stopAt int) int {
	t.Helper()
	r := newRig(t, swap, 2)
	r.fake.Default(fakeproc.Plan{Ready: true, StopDelay: 20 * time.Millisecond})
	r.fake.Queue(plans...)
	r.write("v2")
	var lines []string
	var stopped sync.WaitGroup
	var shutdownErr error
	reloadErr := r.reload(func(line string) {
		if len(lines) == stopAt {
			stopped.Go(func() { shutdownErr = r.m.Shutdown(context.Background()) })
		}
		lines = append(lines, line)
	})
	if stopAt < 0 {
		return len(lines)
	}
	stopped.Wait()
	where := fmt.Sprintf("stopped at line %d of %q", stopAt, lines)
	if shutdownErr != nil {
		t.Errorf("%s: Shutdown: %v", where, shutdownErr)
	}
	if reloadErr != nil && !errors.Is(reloadErr, ErrShuttingDown) && len(plans) == 0 {
		t.Errorf("%s: reload error %q does not say the manager is shutting down", where, reloadErr)
	}
	for _, pid := range r.fake.Started() {
		select {
		case <-r.fake.Process(pid).Done():
		default:
			t.Errorf("%s: pid %d (%s) still runs after Shutdown", where, pid, r.version(pid))
		}
	}
	if err := r.m.Reload(context.Background(), nil); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("%s: a reload after Shutdown: %v, want ErrShuttingDown", where, err)
	}
	return len(lines)
}

// A port stopped for maintenance stays stopped across a reload, and
// starts again, on the new config, with StartPorts.
func TestStoppedPortStaysStoppedAcrossAReload(t *testing.T) {
	r := newRig(t, fakeSwaps["stop-then-start"], 2)
	held := r.ports[0]
	if err := r.m.StopPorts(context.Background(), []int{held}, nil); err != nil {
		t.Fatal(err)
	}
	r.write("v2")
	if err := r.reload(func(string) {}); err != nil {
		t.Fatal(err)
	}
	if pids := r.pids(); pids[0] != 0 || r.version(pids[1]) != "v2" {
		t.Fatalf("after the reload: pids %v (%s), want port %d stopped and the other on v2", pids, r.version(pids[1]), held)
	}
	if err := r.m.StartPorts(context.Background(), []int{held}, nil); err != nil {
		t.Fatal(err)
	}
	if pid := r.pids()[0]; r.version(pid) != "v2" {
		t.Errorf("port %d started again: pid %d (%s), want v2", held, pid, r.version(pid))
	}
}

// A reload that raises stop.timeout raises what a shutdown waits for: the
// manager does not cut instances short of the timeout they were given.
func TestShutdownWaitsAsLongAsTheRunningInstancesMay(t *testing.T) {
	r := newRig(t, fakeSwaps["stop-then-start"], 2)
	if got := r.m.longestStop(); got != 2*time.Second {
		t.Fatalf("before the reload: %s, want 2s", got)
	}
	r.stop = "30s"
	r.write("v2")
	if err := r.reload(func(string) {}); err != nil {
		t.Fatal(err)
	}
	if got := r.m.longestStop(); got != 30*time.Second {
		t.Errorf("after a reload to stop.timeout 30s: %s, want 30s", got)
	}
}
