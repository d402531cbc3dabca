package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"syscall"
	"time"
)

// window is one injected fault: what, on which manager, and when. A
// costly fault (kill -9, a frozen instance, the manager stopped) may cost
// requests; every other one is a swap or a fault that promises 0.
type window struct {
	step         int
	kind, target string
	detail       string
	began, ended time.Time
	costly       bool
	failedCmd    string // the first line of a hellomgr command that failed, if one did
}

// fault is one kind of fault the run draws; do returns false when it does
// not apply now (no port to start, no hook running), and the run draws
// again.
type fault struct {
	kind   string
	weight int
	do     func(r *run, m *manager, w *window) bool
}

// faults is the catalog the seeded source draws from.
var faults = []fault{
	{"kill -9 instance", 4, killInstance},
	{"kill -9 instance, 3 times in a row", 2, killInstanceAgain},
	{"kill -9 hook child", 3, killHookChild},
	{"SIGSTOP/SIGCONT instance", 3, freezeInstance},
	{"reload", 4, command("reload")},
	{"reload --canary 1 --watch 2s", 2, command("reload", "--canary", "1", "--watch", "2s")},
	{"restart PORT", 3, portCommand("restart")},
	{"stop PORT", 2, stopPort},
	{"start PORT", 3, startPort},
	{"upgrade", 3, command("upgrade")},
	{"SIGHUP", 2, sendSignal(syscall.SIGHUP)},
	{"SIGUSR2", 2, sendSignal(syscall.SIGUSR2)},
	{"two signals 5-30 ms apart", 3, twoSignals},
	{"SIGTERM then up", 1, termThenUp},
	{"config edit during upgrade", 2, editDuringUpgrade},
	{"disk full for the logs", 2, diskFull},
	{"control client that stops reading", 2, stuckClient},
}

// draw picks a fault by weight.
func draw(rng *rand.Rand) fault {
	total := 0
	for _, f := range faults {
		total += f.weight
	}
	n := rng.IntN(total)
	for _, f := range faults {
		if n < f.weight {
			return f
		}
		n -= f.weight
	}
	return faults[0]
}

// between is a duration drawn uniformly from [lo, hi).
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// servingPort draws a port of m that is not stopped for maintenance, 0
// when there is none.
func (r *run) servingPort(m *manager) int {
	var ports []int
	for _, p := range m.ports {
		if !m.stopped[p] {
			ports = append(ports, p)
		}
	}
	if len(ports) == 0 {
		return 0
	}
	return ports[r.rng.IntN(len(ports))]
}

// cmd runs one hellomgr command for the fault and notes its failure.
func (r *run) cmd(m *manager, w *window, limit time.Duration, args ...string) error {
	out, err := m.hellomgr(r.ctx, limit, args...)
	if err != nil {
		if w.failedCmd != "" {
			w.failedCmd += "; "
		}
		w.failedCmd += fmt.Sprintf("hellomgr %v: %v: %s", args, err, firstLines(out, 3))
	}
	return err
}

func command(args ...string) func(r *run, m *manager, w *window) bool {
	return func(r *run, m *manager, w *window) bool {
		r.cmd(m, w, 3*time.Minute, args...)
		return true
	}
}

func portCommand(verb string) func(r *run, m *manager, w *window) bool {
	return func(r *run, m *manager, w *window) bool {
		port := r.servingPort(m)
		if port == 0 {
			return false
		}
		w.detail = strconv.Itoa(port)
		r.cmd(m, w, 3*time.Minute, verb, strconv.Itoa(port))
		return true
	}
}

// stopPort stops a port for maintenance, keeping at least two serving.
func stopPort(r *run, m *manager, w *window) bool {
	if len(m.ports)-len(m.stopped) <= 2 {
		return false
	}
	port := r.servingPort(m)
	w.detail = strconv.Itoa(port)
	if r.cmd(m, w, 3*time.Minute, "stop", strconv.Itoa(port)) == nil {
		m.stopped[port] = true
	}
	return true
}

func startPort(r *run, m *manager, w *window) bool {
	for _, port := range m.ports {
		if m.stopped[port] {
			w.detail = strconv.Itoa(port)
			if r.cmd(m, w, 3*time.Minute, "start", strconv.Itoa(port)) == nil {
				delete(m.stopped, port)
			}
			return true
		}
	}
	return false
}

// killInstance sends SIGKILL to a serving instance and waits for the
// manager to have it ready again.
func killInstance(r *run, m *manager, w *window) bool {
	port := r.servingPort(m)
	pid := m.pidOf(r.ctx, port)
	if pid == 0 {
		return false
	}
	w.costly, w.detail = true, fmt.Sprintf("%d (pid %d)", port, pid)
	syscall.Kill(pid, syscall.SIGKILL)
	r.waitReplaced(m, port, pid)
	return true
}

// killInstanceAgain kills one instance three times in a row, each time
// once it is ready again: an app that crashes after it became ready, as
// many times as restart.max_tries (3 in the run's configs) allows.
func killInstanceAgain(r *run, m *manager, w *window) bool {
	port := r.servingPort(m)
	if port == 0 {
		return false
	}
	w.costly, w.detail = true, strconv.Itoa(port)
	for range 3 {
		pid := m.pidOf(r.ctx, port)
		if pid == 0 || !m.alive() {
			break
		}
		w.detail += fmt.Sprintf(" (pid %d)", pid)
		syscall.Kill(pid, syscall.SIGKILL)
		r.waitReplaced(m, port, pid)
	}
	return true
}

// freezeInstance stops a serving instance for 0.3-3 s, then lets it go
// on: requests it holds wait, which a client may see as slowness.
func freezeInstance(r *run, m *manager, w *window) bool {
	port := r.servingPort(m)
	pid := m.pidOf(r.ctx, port)
	if pid == 0 {
		return false
	}
	d := between(r.rng, 300*time.Millisecond, 3*time.Second)
	w.costly, w.detail = true, fmt.Sprintf("%d (pid %d) for %s", port, pid, d.Round(time.Millisecond))
	syscall.Kill(pid, syscall.SIGSTOP)
	defer syscall.Kill(pid, syscall.SIGCONT)
	sleep(r.ctx, d)
	return true
}

// killHookChild sends SIGKILL to a child of a hook that runs now.
func killHookChild(r *run, m *manager, w *window) bool {
	kids := hookChildren(m.proc.PID)
	if len(kids) == 0 {
		return false
	}
	pid := kids[r.rng.IntN(len(kids))]
	w.detail = fmt.Sprintf("pid %d", pid)
	syscall.Kill(pid, syscall.SIGKILL)
	return true
}

// waitReplaced waits until status shows port ready with another pid
// than old (or failed: it gave up), for at most 30 s.
func (r *run) waitReplaced(m *manager, port, old int) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && r.ctx.Err() == nil && m.alive() {
		st, _, err := m.status(r.ctx, 10*time.Second)
		if err == nil {
			for _, i := range st.Instances {
				if i.Port == port && (i.State == "ready" && i.PID != old || i.State == "failed") {
					return
				}
			}
		}
		sleep(r.ctx, 50*time.Millisecond)
	}
}
