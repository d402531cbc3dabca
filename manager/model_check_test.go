package manager

// The invariants of the generated sequences (model_test.go).

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/internal/bugs"
	"github.com/hellomgr/hellomgr/internal/testnet"
)

func freePorts(t *testing.T, n int) []int {
	ports := testnet.FreePorts(t, n)
	slices.Sort(ports)
	return ports
}

// documented are the states status may show.
var documented = []string{"stopped", "starting", "ready", "stopping", "backoff", "failed"}

// check waits for the manager to settle, then checks every invariant;
// it reports whether they all held. A process launched at the instant
// of the check is seen before its instance says so: what does not hold
// is looked at again for a moment before it counts.
func (s *sequence) check() bool {
	s.t.Helper()
	s.settle()
	var problems []string
	for range 20 {
		if problems = s.violations(); len(problems) == 0 {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, p := range problems {
		s.fail("%s", p)
	}
	return false
}

// violations lists the invariants that do not hold now.
func (s *sequence) violations() []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	begun := time.Now()
	rep := s.r.m.Report()
	if d := time.Since(begun); d > 5*time.Second {
		add("status took %s", d)
	}
	if n := bugs.Count() - s.bugs; n > 0 {
		add("%d internal errors (a panic or a transition the table lacks)", n)
	}
	seen := map[int]bool{}
	for _, row := range rep.Instances {
		if msg := s.checkRow(row.Port, row.State, row.PID, seen); msg != "" {
			add("%s", msg)
		}
	}
	for _, port := range s.r.ports {
		if !seen[port] {
			add("port %d is not in status", port)
		}
	}
	return append(out, s.checkProcesses(rep.Instances)...)
}

func (s *sequence) checkRow(port int, state string, pid int, seen map[int]bool) string {
	defer func() { seen[port] = true }()
	switch {
	case seen[port]:
		return fmt.Sprintf("port %d is in status twice", port)
	case !slices.Contains(s.r.ports, port):
		return fmt.Sprintf("port %d is in status but not in the config", port)
	case !slices.Contains(documented, state):
		return fmt.Sprintf("port %d is in state %q", port, state)
	case (state == "ready" || state == "stopping") && pid == 0:
		return fmt.Sprintf("port %d is %s with no process", port, state)
	case (state == "stopped" || state == "failed" || state == "backoff") && pid != 0:
		return fmt.Sprintf("port %d is %s with pid %d", port, state, pid)
	case s.held[port] && state != "stopped":
		return fmt.Sprintf("port %d was stopped for maintenance and is %s", port, state)
	}
	if pid == 0 {
		return ""
	}
	if f := s.r.fake.Process(pid); f == nil {
		return fmt.Sprintf("port %d: pid %d is no process of ours", port, pid)
	} else if done(f.Done()) && state == "ready" {
		return fmt.Sprintf("port %d is ready, but its pid %d has exited", port, pid)
	}
	return ""
}

// checkProcesses: every process still running is one status shows.
func (s *sequence) checkProcesses(rows []control.InstanceStatus) []string {
	var out []string
	shown := map[int]bool{}
	for _, row := range rows {
		shown[row.PID] = true
	}
	for _, pid := range s.r.fake.Started() {
		if f := s.r.fake.Process(pid); !done(f.Done()) && !shown[pid] {
			out = append(out, fmt.Sprintf("pid %d of port %d runs, but no port shows it (leaked; stop signalled: %v); status: %s",
				pid, f.Spec().Port, slices.Contains(s.r.fake.Stopped(), pid), rowsText(rows)))
		}
	}
	return out
}

// settle waits until no rollout holds the turn, no instance is starting
// or stopping and every exit has reached its instance, for at most 5 s: a port may stay in backoff or
// crash in a loop, which is a documented state.
func (s *sequence) settle() {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		busy := false
		s.r.m.turn.mu.Lock()
		busy = s.r.m.turn.holder != ""
		s.r.m.turn.mu.Unlock()
		for _, st := range s.r.m.Instances() {
			busy = busy || st.State == instance.Starting || st.State == instance.Stopping
			if f := s.r.fake.Process(st.PID); f != nil && done(f.Done()) {
				busy = true // its exit is on its way to the instance
			}
		}
		if !busy {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// shutdown stops the manager and checks that every process has ended.
func (s *sequence) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.r.m.Shutdown(ctx); err != nil {
		s.fail("shutdown: %v", err)
	}
	for _, pid := range s.r.fake.Started() {
		if f := s.r.fake.Process(pid); !done(f.Done()) {
			s.fail("pid %d still runs after shutdown", pid)
		}
	}
	if n := bugs.Count() - s.bugs; n > 0 {
		s.fail("%d internal errors", n)
	}
}

func (s *sequence) fail(format string, args ...any) {
	s.t.Helper()
	s.t.Errorf("after %d events: %s", len(s.events), fmt.Sprintf(format, args...))
}

func done(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func rowsText(rows []control.InstanceStatus) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%d %s pid %d; ", r.Port, r.State, r.PID)
	}
	return b.String()
}
