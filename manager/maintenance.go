package manager

import (
	"context"
	"fmt"
	"slices"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/instance"
)

// Restart replaces the instances on ports with new ones under the current
// config, max_unavailable at a time, with the same readiness gating and
// nginx drain as a reload. A port stopped with StopPorts is started again,
// as `systemctl restart` starts a stopped unit.
func (m *Manager) Restart(ctx context.Context, ports []int, progress control.Progress) error {
	return m.restart(ctx, "hellomgr restart "+config.PortList(ports), ports, progress)
}

// restart is Restart, holding the rollout turn as what.
func (m *Manager) restart(ctx context.Context, what string, ports []int, progress control.Progress) error {
	return m.maintain(ctx, what, ports, progress, func(ctx context.Context, r *rollout) error {
		for batch := range slices.Chunk(ports, r.cfg.Reload.MaxUnavailable) {
			m.setHeld(batch, false) // batch by batch: a halt leaves the rest as they were
			if err := m.replaceAll(ctx, r, batch); err != nil {
				return err
			}
		}
		return m.putBack(ctx, r)
	})
}

// StopPorts stops the instances on ports for maintenance: out of the nginx
// upstream first, then a graceful stop, then the port is closed so that
// connects are refused rather than queued. They stay stopped, across
// reloads too, until StartPorts or Restart.
func (m *Manager) StopPorts(ctx context.Context, ports []int, progress control.Progress) error {
	return m.maintain(ctx, "hellomgr stop "+config.PortList(ports), ports, progress, func(ctx context.Context, r *rollout) error {
		m.setHeld(ports, true)
		if err := m.takeOut(ctx, r, ports); err != nil {
			return err
		}
		for _, port := range ports {
			i := m.instanceOn(port)
			pid := i.Status().PID
			i.Stop(ctx)
			m.rest(port, i)
			m.closeListener(port)
			r.progress("%d: stopped (was pid %d); it stays stopped until hellomgr start %d", port, pid, port)
		}
		return nil
	})
}

// StartPorts starts the instances on ports that are not running (stopped
// for maintenance, or failed), each ready before the next, and puts them
// back into the nginx upstream.
func (m *Manager) StartPorts(ctx context.Context, ports []int, progress control.Progress) error {
	return m.maintain(ctx, "hellomgr start "+config.PortList(ports), ports, progress, func(ctx context.Context, r *rollout) error {
		for _, port := range ports {
			if err := m.startPort(ctx, r, port); err != nil {
				return err
			}
		}
		return m.putBack(ctx, r)
	})
}

func (m *Manager) startPort(ctx context.Context, r *rollout, port int) error {
	prev := m.instanceOn(port)
	if st := prev.Status(); st.PID != 0 {
		m.setHeld([]int{port}, false)
		r.progress("%d: already running (pid %d, %s)", port, st.PID, st.State)
		return nil
	}
	// One in backoff would start a process of its own, beside its
	// successor and out of the port's sight: end it first.
	prev.Stop(ctx)
	if err := m.matchHandoff(port, r.cfg); err != nil {
		return err
	}
	next := m.newInstance(r.cfg, port)
	if err := next.Start(ctx, instance.GiveUp); err != nil {
		return fmt.Errorf("start port %d: %w", port, err)
	}
	m.setInstance(port, next, false)
	m.setHeld([]int{port}, false)
	r.progress("%d: started, pid %d ready", port, next.Status().PID)
	return nil
}

// maintain runs fn as a rollout (what, for a refused one) of the current config on configured ports,
// one at a time with reloads, and puts every port back into nginx if fn
// fails half-way.
func (m *Manager) maintain(ctx context.Context, what string, ports []int, progress control.Progress, fn func(context.Context, *rollout) error) error {
	ctx, done, err := m.beginRollout(ctx, what)
	if err != nil {
		return err
	}
	defer done()
	cfg := m.Config()
	if err := cfg.CheckNamed(ports, "the running config"); err != nil {
		return fmt.Errorf("%w; a port added to the file starts with hellomgr reload", err)
	}
	if progress == nil {
		progress = func(string, ...any) {}
	}
	r := &rollout{m: m, old: cfg, cfg: cfg, progress: progress}
	defer r.draining.Wait()
	if err := m.stoppedByShutdown(fn(ctx, r)); err != nil {
		if perr := m.putBack(context.WithoutCancel(ctx), r); perr != nil {
			return fmt.Errorf("%w; and %w", err, perr)
		}
		return err
	}
	return nil
}

func (m *Manager) setHeld(ports []int, held bool) {
	m.ports.do(func(t *portTable) {
		for _, port := range ports {
			if s, ok := t.slots[port]; ok {
				s.held = held
			}
		}
	})
}

// heldPorts lists the ports stopped for maintenance, which stay marked
// down in nginx.
func (m *Manager) heldPorts() []int {
	var held []int
	m.ports.do(func(t *portTable) {
		for port, s := range t.slots {
			if s.held {
				held = append(held, port)
			}
		}
	})
	slices.Sort(held)
	return held
}

// rest leaves port, whose instance i has just been stopped, in state
// stopped: a failed instance is put to rest with its counts, as
// `systemctl stop` makes a failed unit inactive.
func (m *Manager) rest(port int, i *instance.Instance) {
	if i.State() != instance.Failed {
		return
	}
	r := i.Rest()
	r.State = instance.Stopped.String()
	stopped := instance.Resting(i.Spec(), m.log, r)
	m.ports.do(func(t *portTable) {
		if s := t.slots[port]; s != nil && s.inst == i {
			s.inst = stopped
		}
	})
}
