package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/control"
)

// statusLimit bounds a status answer: the machine is shared and slow, so
// this is generous; a manager that does not answer within it is stuck.
const statusLimit = 10 * time.Second

// settleLimit is how long every serving port may take to be ready again
// after a fault.
const settleLimit = 45 * time.Second

// documented are the states `hellomgr status` may show (instance.State).
var documented = []string{"stopped", "starting", "ready", "stopping", "backoff", "failed"}

// death is a manager that died when it was not asked to stop.
type death struct {
	target, after string
	step          int
	panics        []string
}

// violation records one broken invariant, tied to the fault after which
// it was seen.
// The same violation seen again after later faults (a port that stays
// missing) counts once.
func (r *run) violation(w *window, format string, args ...any) {
	what := fmt.Sprintf(format, args...)
	if r.violationSeen[what]++; r.violationSeen[what] > 1 {
		return
	}
	msg := fmt.Sprintf("step %d (%s on %s): %s", w.step, w.kind, w.target, what)
	r.violations = append(r.violations, msg)
	r.logf("  VIOLATION %s", msg)
}

// check runs after each fault: every manager alive (one that died is
// counted, its panics collected, and it is started again), answering a
// status within statusLimit, every configured port listed once in a
// documented state, a port stopped for maintenance still stopped, and
// every other port ready again within settleLimit.
func (r *run) check(w *window) {
	if r.ctx.Err() != nil {
		return // Ctrl-C: what follows is the run's own ending
	}
	for _, m := range r.ms {
		if !m.alive() {
			r.died(m, w)
			continue
		}
		r.checkStatus(m, w)
	}
}

// died counts a manager death and starts the manager again.
func (r *run) died(m *manager, w *window) {
	d := death{target: m.name, after: w.kind, step: w.step}
	d.panics = r.collectPanics(m, w)
	r.deaths = append(r.deaths, d)
	r.logf("  MANAGER DIED: %s (pid %d) after step %d (%s); panics: %d", m.name, m.proc.PID, w.step, w.kind, len(d.panics))
	for _, p := range d.panics {
		r.logf("    %s", p)
	}
	// Whatever it left (its instances die with it; what they started
	// stays in their cgroups), the next up ends, as it does for a user.
	if err := m.up(r.ctx); err != nil {
		r.violation(w, "%s: manager cannot start again after its death: %v", m.name, err)
	}
	// What fails from the fault until the manager is back (and nginx's
	// fail_timeout after) is the death's: counted as such, not as the
	// fault's.
	r.deathWindows = append(r.deathWindows, window{step: w.step, kind: "manager death", target: m.name,
		began: w.began, ended: time.Now(), costly: true})
}

// checkStatus checks one live manager's report, then waits for its
// serving ports to be ready.
func (r *run) checkStatus(m *manager, w *window) {
	deadline := time.Now().Add(settleLimit)
	for {
		st, took, err := m.status(r.ctx, statusLimit)
		r.statusMax = max(r.statusMax, took)
		if err != nil {
			if !m.alive() {
				r.died(m, w)
				return
			}
			r.violation(w, "%s: status: %v (after %s)", m.name, err, took.Round(time.Millisecond))
			return
		}
		if bad := r.badStates(m, st); bad != "" {
			r.violation(w, "%s: %s", m.name, bad)
			return
		}
		for _, i := range st.Instances {
			if i.PID != 0 {
				r.learn(i.PID)
			}
		}
		waiting := notReady(m, st)
		if waiting == "" || r.ctx.Err() != nil {
			r.repair(m, w, st)
			return
		}
		if time.Now().After(deadline) {
			r.violation(w, "%s: not ready %s after the fault: %s", m.name, settleLimit, waiting)
			return
		}
		sleep(r.ctx, 100*time.Millisecond)
	}
}

// repair starts again, as an operator would, a port that gave up after
// restart.max_tries kills in a row, so that the run goes on with every
// port: `hellomgr restart PORT` must bring it back.
func (r *run) repair(m *manager, w *window, st control.Report) {
	for _, i := range st.Instances {
		if i.State != "failed" || m.stopped[i.Port] {
			continue
		}
		r.gaveUp++
		r.logf("  %s: port %d failed (%s); hellomgr restart %d", m.name, i.Port, i.LastError, i.Port)
		if out, err := m.hellomgr(r.ctx, 3*time.Minute, "restart", strconv.Itoa(i.Port)); err != nil {
			r.violation(w, "%s: restart of failed port %d: %v: %s", m.name, i.Port, err, firstLines(out, 3))
		}
	}
}

// badStates says what in a report breaks the invariants: a configured
// port missing or listed twice, a port not configured, a state not
// documented, a port stopped for maintenance that is not stopped.
func (r *run) badStates(m *manager, st control.Report) string {
	seen := map[int]int{}
	var bad []string
	for _, i := range st.Instances {
		seen[i.Port]++
		switch {
		case !slices.Contains(m.ports, i.Port):
			bad = append(bad, fmt.Sprintf("port %d listed but not configured", i.Port))
		case !slices.Contains(documented, i.State):
			bad = append(bad, fmt.Sprintf("port %d in undocumented state %q", i.Port, i.State))
		case m.stopped[i.Port] && i.State != "stopped":
			bad = append(bad, fmt.Sprintf("port %d stopped for maintenance but %s (pid %d)", i.Port, i.State, i.PID))
		}
	}
	for _, p := range m.ports {
		if seen[p] != 1 {
			bad = append(bad, fmt.Sprintf("port %d listed %d times, want once", p, seen[p]))
		}
	}
	return strings.Join(bad, "; ")
}

// notReady lists the serving ports that are neither ready nor failed
// (gave up: restart.max_tries kills in a row), "" when none is.
func notReady(m *manager, st control.Report) string {
	var waiting []string
	for _, i := range st.Instances {
		if !m.stopped[i.Port] && i.State != "ready" && i.State != "failed" {
			waiting = append(waiting, fmt.Sprintf("%d %s%s", i.Port, i.State, lastError(i)))
		}
	}
	return strings.Join(waiting, ", ")
}

func lastError(i control.InstanceStatus) string {
	if i.LastError == "" {
		return ""
	}
	return " (" + i.LastError + ")"
}

// collectPanics returns the panics in the manager's log (hellomgr.log and
// its rotated copies) not seen before, each with the lines that follow it.
func (r *run) collectPanics(m *manager, w *window) []string {
	var found []string
	for _, path := range []string{m.managerLog() + ".2", m.managerLog() + ".1", m.managerLog()} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		lines := strings.Split(string(b), "\n")
		for n, line := range lines {
			if !isPanic(line) {
				continue
			}
			text := strings.Join(lines[n:min(n+8, len(lines))], " | ")
			if r.panicsSeen[text] {
				continue
			}
			r.panicsSeen[text] = true
			found = append(found, fmt.Sprintf("%s after step %d (%s): %s", m.name, w.step, w.kind, text))
		}
	}
	r.panics = append(r.panics, found...)
	return found
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[:min(n, len(lines))], " | ")
}

// isPanic reports whether a manager log line begins a panic: one that
// ended the program, a fatal runtime error, or one net/http recovered in a
// request handler (the client then sees EOF).
func isPanic(line string) bool {
	return strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") ||
		strings.Contains(line, "http: panic serving")
}
