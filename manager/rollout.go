package manager

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/notify"
	"github.com/hellomgr/hellomgr/proc"
)

// Reload re-reads the config file and rolls it out: it validates the whole
// file first (an invalid file changes nothing), checks that added ports are
// free, starts the added ports, replaces the others max_unavailable at a
// time, each new instance ready before the next old one goes, then stops
// the removed ports. A replacement that does not become ready halts the
// rollout: that port goes back to the previous config, the ports not yet
// reached keep their processes, and the error names the port and shows its
// last output. Only one reload runs at a time.
func (m *Manager) Reload(ctx context.Context, progress control.Progress) error {
	return m.ReloadWith(ctx, control.ReloadOptions{}, progress)
}

// ReloadWith is Reload with options.
func (m *Manager) ReloadWith(ctx context.Context, opts control.ReloadOptions, progress control.Progress) error {
	ctx, done, err := m.beginRollout(ctx, "a reload")
	if err != nil {
		return err
	}
	defer done()
	if progress == nil {
		progress = func(string, ...any) {}
	}
	start := time.Now()
	m.rollouts.started()
	m.warnIfUnsent(notify.Reloading())
	err = m.stoppedByShutdown(m.reload(ctx, opts, progress))
	// Halted or not, Prometheus should follow the ports that run now
	// (a halted rollout may have added some).
	m.writeTargets()
	m.rollouts.finished(time.Since(start), err)
	status := "reload done in " + time.Since(start).Round(time.Millisecond).String()
	if err != nil {
		status = "reload failed; " + m.readyStatus()
	} else {
		progress("%s", status)
	}
	m.warnIfUnsent(notify.Ready(status))
	// A rollout leaves garbage behind (old instances' buffers): give the
	// memory back now rather than when the scavenger gets to it.
	debug.FreeOSMemory()
	return err
}

// rollout is one reload in progress.
type rollout struct {
	m         *Manager
	old, cfg  *config.Config
	opts      control.ReloadOptions
	progress  control.Progress
	draining  sync.WaitGroup // replaced instances still finishing their requests
	published string         // the upstream block nginx was last reloaded with
}

func (m *Manager) reload(ctx context.Context, opts control.ReloadOptions, progress control.Progress) error {
	old := m.Config()
	cfg, err := config.Load(old.File)
	if err == nil {
		err = cfg.CheckReloadable(old)
	}
	if err != nil {
		return fmt.Errorf("config not reloaded, nothing changed:\n%w", err)
	}
	r := &rollout{m: m, old: old, cfg: cfg, opts: opts, progress: progress}
	// Replaced instances drain in the background while the rollout goes
	// on; the reload is done only once they have all exited.
	defer r.draining.Wait()
	p := PlanPorts(old.Ports, cfg.Ports)
	progress("config %s: %d to replace, %d to add, %d to remove", cfg.File, len(p.Replaced), len(p.Added), len(p.Removed))
	for _, line := range SwapOf(cfg).Lines() {
		progress("%s", line)
	}
	// The nginx step is tried before anything else, so that a broken one
	// stops the reload before any instance is touched.
	if err := r.publish(ctx, r.upstreamPorts(), p.Added); err != nil {
		// Put back the file nginx runs with: left as written, it would
		// bring ports that do not run yet into nginx at its next reload.
		// Best effort: the error that stopped the reload is the one to show.
		if old.Nginx != nil {
			upstream(old, old.Ports, m.heldPorts()).WriteFile(old.Nginx.UpstreamFile)
		}
		return fmt.Errorf("reload stopped before any change: %w", err)
	}
	if err := m.roll(ctx, r, p); err != nil {
		if perr := m.putBack(context.WithoutCancel(ctx), r); perr != nil {
			err = errors.Join(err, perr)
		}
		return err
	}
	m.setConfig(cfg)
	return r.publish(ctx, cfg.Ports, nil)
}

// roll carries out a plan: add, replace batch by batch, remove.
func (m *Manager) roll(ctx context.Context, r *rollout, p Plan) error {
	if err := m.addPorts(ctx, r.cfg, p.Added, r.progress); err != nil {
		return err
	}
	canaries, rest := pickCanaries(p.Replaced, m.heldPorts(), r.opts.Canary)
	if err := m.replaceAll(ctx, r, canaries); err != nil {
		return err
	}
	if len(canaries) > 0 {
		if err := m.judgeCanaries(ctx, r, canaries, rest); err != nil {
			return err
		}
	}
	if err := m.replaceAll(ctx, r, rest); err != nil {
		return err
	}
	if err := m.takeOut(ctx, r, p.Removed); err != nil {
		return err
	}
	m.removePorts(ctx, p.Removed, r.progress)
	return nil
}

// replaceAll replaces ports max_unavailable at a time. Each takeOut
// publishes the upstream with only its own batch down, which puts the
// previous batch back in the same nginx reload; the caller puts the last
// one back. Every nginx reload closes nginx's idle client connections, so
// fewer is better for clients.
func (m *Manager) replaceAll(ctx context.Context, r *rollout, ports []int) error {
	for batch := range slices.Chunk(ports, r.cfg.Reload.MaxUnavailable) {
		if err := m.takeOut(ctx, r, batch); err != nil {
			return err
		}
		if err := m.replaceBatch(ctx, r, batch); err != nil {
			return err
		}
	}
	return nil
}

// addPorts binds every added port first (a taken one stops the reload
// before any change), then starts them.
func (m *Manager) addPorts(ctx context.Context, cfg *config.Config, ports []int, progress control.Progress) error {
	if len(ports) == 0 {
		return nil
	}
	files, err := bindAll(cfg.Address, ports, cfg.Reload.Handoff == config.HandoffSocket)
	if err != nil {
		return fmt.Errorf("reload stopped before any change: %w", err)
	}
	for _, port := range ports {
		s, err := m.newSlot(cfg, port, files[port])
		if err != nil {
			closeAll(files)
			return err
		}
		// The slot is this rollout's until it joins the set, ready.
		s.inst = instance.New(m.spec(cfg, s), m.log)
		if err := s.inst.Start(ctx, instance.GiveUp); err != nil {
			s.close()
			return fmt.Errorf("reload halted: added port %d did not start: %w", port, err)
		}
		pid := s.inst.Status().PID
		m.addSlot(s)
		progress("%d: added, pid %d ready", port, pid)
	}
	return nil
}

// replaceBatch replaces a batch of ports at once and waits for all of them.
func (m *Manager) replaceBatch(ctx context.Context, r *rollout, ports []int) error {
	errs := make([]error, len(ports))
	var wg sync.WaitGroup
	for i, port := range ports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.replace(ctx, r, port)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// replace swaps one port's instance for one under cfg. The old instance is
// asked to stop; once it has let go of the port (closed its copy of the
// shared socket, or exited), the new one starts and must become ready. The
// old one may still be finishing its last requests meanwhile.
func (m *Manager) replace(ctx context.Context, r *rollout, port int) error {
	var held, shared bool
	m.ports.do(func(t *portTable) {
		s := t.slots[port]
		held, shared = s.held, s.listener != nil
	})
	if held {
		r.progress("%d: stopped for maintenance, left stopped (hellomgr start %d)", port, port)
		return nil
	}
	// The new process may start while the old one still serves when both
	// accept on the port's one socket, so the port never pauses, and the
	// new one's readiness is its own READY=1, which the old one cannot
	// answer for as it could a probe of the shared port.
	if shared && SwapOf(r.cfg).Kind == SwapOverlap {
		return m.replaceOverlapping(ctx, r, port)
	}
	return m.replaceInTurn(ctx, r, port)
}

// replaceOverlapping starts the new instance beside the old one and stops
// the old one once the new one is ready. A new one that fails leaves the
// old one serving, untouched.
func (m *Manager) replaceOverlapping(ctx context.Context, r *rollout, port int) error {
	prevPID := m.instanceOn(port).Status().PID
	r.progress("%d: starting beside pid %d", port, prevPID)
	next := m.newInstance(r.cfg, port)
	begun := time.Now()
	if err := next.Start(ctx, instance.GiveUp); err != nil {
		r.progress("%d: new instance failed; pid %d keeps serving the previous config", port, prevPID)
		return fmt.Errorf("reload halted at port %d: %w", port, err)
	}
	stopped := m.setInstance(port, next, true).StopAsync()
	r.progress("%d: pid %d ready in %s, stopping pid %d", port, next.Status().PID, time.Since(begun).Round(time.Millisecond), prevPID)
	r.draining.Go(func() { <-stopped }) // bounded: StopTimeout, then SIGKILL
	return nil
}

// replaceInTurn stops the old instance, then starts the new one.
func (m *Manager) replaceInTurn(ctx context.Context, r *rollout, port int) error {
	old, cfg, progress := r.old, r.cfg, r.progress
	prev := m.instanceOn(port)
	prevPID := prev.Status().PID
	progress("%d: stopping pid %d", port, prevPID)
	stopped := prev.StopAsync()
	if err := m.awaitRelease(ctx, port, prevPID, stopped, cfg.Stop.Timeout+time.Second); err != nil {
		return err
	}
	if err := m.matchHandoff(port, cfg); err != nil {
		return m.restore(ctx, old, port, err, progress)
	}
	next := m.newInstance(cfg, port)
	begun := time.Now()
	if err := next.Start(ctx, instance.GiveUp); err != nil {
		return m.restore(ctx, old, port, err, progress)
	}
	m.setInstance(port, next, true)
	progress("%d: pid %d ready in %s (replaced pid %d)", port, next.Status().PID, time.Since(begun).Round(time.Millisecond), prevPID)
	r.draining.Go(func() { <-stopped }) // bounded: StopTimeout, then SIGKILL
	return nil
}

// awaitRelease waits until the old process no longer holds the shared
// socket, so that from then on only the new process can accept and its
// readiness probe cannot be answered by the old one. Without a shared
// socket it waits for the old process to exit.
func (m *Manager) awaitRelease(ctx context.Context, port, pid int, stopped <-chan struct{}, limit time.Duration) error {
	var inode uint64
	m.ports.do(func(t *portTable) {
		if s := t.slots[port]; s.listener != nil && pid > 0 {
			inode, _ = proc.SocketInode(s.listener)
		}
	})
	deadline := time.After(limit)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if inode != 0 {
			if held, err := proc.HoldsInode(pid, inode); err == nil && !held {
				return nil
			}
		}
		select {
		case <-stopped:
			return nil
		case <-deadline:
			return fmt.Errorf("port %d: pid %d did not stop within %s", port, pid, limit)
		case <-ctx.Done():
			return fmt.Errorf("port %d: waiting for pid %d to stop: %w", port, pid, ctx.Err())
		case <-tick.C:
		}
	}
}

// matchHandoff opens or closes the slot's shared socket to match cfg's
// reload.handoff: a reload may change it, and a port stopped for
// maintenance has closed it. Call it on the owner of the set.
func (s *slot) matchHandoff(cfg *config.Config) error {
	want := cfg.Reload.Handoff == config.HandoffSocket
	switch {
	case want && s.listener == nil:
		f, err := bindPort(cfg.Address, s.port, true)
		if err != nil {
			return err
		}
		s.listener = f
	case !want:
		s.closeListener()
	}
	return nil
}

// restore puts the previous config back on a port whose replacement failed
// and returns the error that halts the rollout.
func (m *Manager) restore(ctx context.Context, old *config.Config, port int, cause error, progress control.Progress) error {
	progress("%d: new instance failed, restoring the previous config", port)
	if err := m.matchHandoff(port, old); err != nil {
		m.log.Error("restore handoff", "port", port, "err", err)
	}
	back := m.installNew(old, port)
	if err := back.Start(ctx, instance.KeepTrying); err != nil {
		progress("%d: previous config did not come back either: %v", port, err)
	} else {
		progress("%d: previous config restored, pid %d ready", port, back.Status().PID)
	}
	return fmt.Errorf("reload halted at port %d: %w", port, cause)
}

// removePorts drains and stops the ports the new config dropped.
func (m *Manager) removePorts(ctx context.Context, ports []int, progress control.Progress) {
	for _, port := range ports {
		i := m.instanceOn(port)
		pid := i.Status().PID
		i.Stop(ctx)
		s, _ := m.takeSlot(port)
		s.close()
		progress("%d: removed, pid %d stopped", port, pid)
	}
}

// pickCanaries takes the first n ports of replaced that are not held (a
// port stopped for maintenance stays stopped, so it could show nothing),
// and returns them and the other ports, in order.
func pickCanaries(replaced, held []int, n int) (canaries, rest []int) {
	for _, port := range replaced {
		if len(canaries) < n && !slices.Contains(held, port) {
			canaries = append(canaries, port)
		} else {
			rest = append(rest, port)
		}
	}
	return canaries, rest
}
