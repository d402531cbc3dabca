package manager

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/hooks"
	"github.com/hellomgr/hellomgr/instance"
)

// Health after start: an instance that fails its liveness probe
// (`liveness:`) or goes over its memory limit (`limits.memory`) once ready
// is replaced as `hellomgr restart PORT` replaces it (Restart: handoff +
// READY=1, nginx drain, or stop-then-start, in the manager's rollout
// turn), so that its port keeps serving; the replacement counts as a
// restart of the port with that reason, backs off as restarts do, and
// gives up after restart.max_tries in a row. The instance reports through
// the callbacks spec.go gives it.

// rolloutRetry is how long an unhealthy instance's replacement waits
// before asking again for the rollout turn that another rollout holds.
const rolloutRetry = 100 * time.Millisecond

// replaceUnhealthy replaces i, unhealthy for reason, through Restart, once
// no other rollout runs. It gives up when i is no longer the port's
// instance (a rollout replaced it meanwhile, or the port was stopped or
// removed) or the manager stops. A replacement that fails leaves i as it
// is; its watch reports again after as many failures more.
func (m *Manager) replaceUnhealthy(cfg *config.Config, s *slot, i *instance.Instance, reason string) {
	before := i.Status()
	if !m.isCurrent(s, i) {
		return
	}
	delay, giveUp := m.unhealthyStreak(cfg, s, before)
	if giveUp {
		m.giveUpUnhealthy(cfg, s, i, reason)
		return
	}
	m.runHook(cfg, s, hookRestart, hooks.Event{Port: s.port, PID: before.PID, State: before.State.String(), Reason: reason})
	select {
	case <-time.After(delay): // a backoff, as after crashes in a row
	case <-m.life.Done():
		return
	}
	progress := func(format string, args ...any) {
		m.log.Info(fmt.Sprintf(format, args...), "port", s.port, "reason", reason)
	}
	begun := time.Now()
	for {
		if !m.isCurrent(s, i) || m.life.Err() != nil {
			return
		}
		err := m.restart(context.Background(), fmt.Sprintf("the replacement of port %d (%s)", s.port, reason), []int{s.port}, progress)
		switch {
		case errors.Is(err, ErrBusy):
			select {
			case <-time.After(rolloutRetry):
				continue
			case <-m.life.Done():
				return
			}
		case errors.Is(err, ErrShuttingDown):
			return
		case err != nil:
			m.log.Warn("replacing an unhealthy instance failed; it is tried again after its next failures", "port", s.port, "pid", before.PID, "reason", reason, "err", err)
			return
		}
		m.countReplacement(s, i, reason, before)
		m.log.Info("unhealthy instance replaced", "port", s.port, "pid", before.PID, "reason", reason, "took", time.Since(begun).Round(time.Millisecond))
		return
	}
}

// countReplacement counts the replacement of prev, unhealthy for reason,
// as a restart of the port (not as a reload, which Restart counted it as):
// its successor carries on its restart counts, plus one for reason.
func (m *Manager) countReplacement(s *slot, prev *instance.Instance, reason string, before instance.Status) {
	var next *instance.Instance
	m.ports.do(func(t *portTable) {
		if t.slots[s.port] != s {
			return
		}
		if next = s.inst; next != prev && s.reloads > 0 {
			s.reloads--
		}
	})
	if next != nil && next != prev {
		next.CountReplacement(before.Restarts, reason, "replaced: "+before.LastError)
	}
}

// isCurrent reports whether i is the instance of s, and s a port the
// manager runs and has not stopped for maintenance.
func (m *Manager) isCurrent(s *slot, i *instance.Instance) bool {
	var current bool
	m.ports.do(func(t *portTable) { current = t.slots[s.port] == s && s.inst == i && !s.held })
	return current
}

// unhealthyStreak counts one more unhealthy replacement of s's instance,
// whose status is st, and says how long to wait before it (the restart
// backoff, doubled for each replacement in a row), or that the port gives
// up (restart.max_tries in a row), as for crashes. An instance that ran
// restart.reset_after or longer starts a new streak.
func (m *Manager) unhealthyStreak(cfg *config.Config, s *slot, st instance.Status) (delay time.Duration, giveUp bool) {
	r := cfg.Restart
	var n int
	m.ports.do(func(*portTable) {
		if !st.StartTime.IsZero() && time.Since(st.StartTime) >= r.ResetAfter {
			s.unhealthy = 0
		}
		s.unhealthy++
		n = s.unhealthy
	})
	if r.MaxTries > 0 && n >= r.MaxTries {
		return 0, true
	}
	if n > 1 {
		delay = r.Backoff << min(n-2, 30)
		delay = min(delay, r.MaxBackoff)
	}
	return delay, false
}

// giveUpUnhealthy ends a port whose instances were unhealthy
// restart.max_tries times in a row: its instance is stopped, the port
// is failed (closed, as after crashes) until a start, restart or reload,
// and hooks.on_failed is told.
func (m *Manager) giveUpUnhealthy(cfg *config.Config, s *slot, i *instance.Instance, reason string) {
	st := i.Status()
	cause := fmt.Sprintf("gave up after %d unhealthy replacements in a row (%s): %s", cfg.Restart.MaxTries, reason, st.LastError)
	m.log.Error("unhealthy again and again: the port is failed until it is started again", "port", s.port, "pid", st.PID, "reason", reason)
	i.Stop(context.Background())
	st = i.Status()
	failed := instance.Resting(m.spec(cfg, s), m.log, instance.Rest{State: instance.Failed.String(), Restarts: st.Restarts, LastExitCode: st.LastExitCode, LastError: cause})
	replaced := false
	m.ports.do(func(t *portTable) {
		if replaced = t.slots[s.port] == s && s.inst == i && !s.held; replaced {
			s.inst, s.unhealthy = failed, 0
			s.closeListener()
		}
	})
	if replaced {
		m.runHook(cfg, s, hookFailed, hooks.Event{Port: s.port, State: instance.Failed.String(), Reason: "gave-up", LastExit: &st.LastExitCode})
	}
}
