// Package manager owns the set of instances one config describes: it starts
// them, answers the control socket, rolls out a new config port by port, and
// stops everything on the way out. Upgrade replaces the manager's own
// program while every instance runs on (upgrade.go says how).
//
// How its state is owned: each instance's life is its own goroutine's
// (package instance); what the manager keeps is in small tables, each
// guarded by one mutex that is never held across a wait: the ports
// (portset.go: the running config, and each port's instance, socket and
// marks), the rollout turn (turn.go: what holds it, a reload asked for
// during an upgrade), the rollout counts (metrics.go), the canary watch
// (canary.go). Everything that waits (starting, stopping, probing,
// reloading nginx) runs outside every lock, in the goroutine of whoever
// holds the turn; the turn, not a lock, is what keeps two rollouts apart.
package manager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hellomgr/hellomgr/cgroup"
	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/hooks"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/logs"
	"github.com/hellomgr/hellomgr/notify"
)

// Options are the parts of a manager that do not come from the config.
type Options struct {
	// Self is the hellomgr binary, run as `Self serve --port N` for the
	// built-in server. The path is executed at every start, so a binary
	// rebuilt at the same path is what a reload runs.
	Self string
	// Log receives the manager's own lines (nil: discard).
	Log *slog.Logger
	// Console, when set, receives every instance's output prefixed with
	// its port (the foreground `up`); the log files get it either way.
	Console io.Writer
	// Version is the program's version, shown by status (Report).
	Version string
}

// Manager runs the instances of one config.
type Manager struct {
	opts    Options
	log     *slog.Logger
	lock    *pidLock
	sinks   []logs.Sink   // where the instances' lines go besides their files: see logSinks
	journal *logs.Journal // among sinks, or nil

	// Set by Prepare, served by Serve.
	controlLn, metricsLn net.Listener

	ports *portSet // the running config and the slots: portset.go

	turn     *turn // taken for the whole of a rollout: see beginRollout
	rollouts rolloutStats
	// life ends when the manager begins to stop, which cancels a rollout.
	life     context.Context
	endLife  context.CancelFunc
	canary   atomic.Pointer[canaryWatch] // the canary watch in progress, if any
	reqs     requestLog                  // what nginx passed to each port: requests.go
	down     chan struct{}               // closed when a client asks the manager to stop
	downOnce sync.Once

	// replacing counts the replacements of unhealthy instances under way
	// (health.go), each on a goroutine of its own.
	replacing sync.WaitGroup

	// cgroups is where every instance gets a cgroup of its own, decided
	// once (openCgroups); nil: sessions, and the manager adopts orphans.
	cgroups *cgroup.Tree

	// launch starts the instances' processes: nil, the real fork and exec;
	// tests set a fake (internal/fakeproc).
	launch instance.Launcher
	hooks  hooks.Set // every hook this manager runs, ended together (hooks.go)

	// Set by Resume: upgrades of this manager, why the last one failed,
	// and whether this program runs degraded after it (see Resume).
	upgrades   int
	upgradeErr string
	degraded   bool
}

// New returns a manager for cfg. Nothing is bound or started until
// Prepare and StartAll (or Resume, for a program that takes over).
func New(cfg *config.Config, opts Options) *Manager {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{opts: opts, log: opts.Log, ports: newPortSet(cfg), turn: newTurn(), down: make(chan struct{})}
	m.life, m.endLife = context.WithCancel(context.Background())
	return m
}

// Prepare takes the config's lock, checks that the log folder is writable
// and binds (or, without socket handoff, checks) every port. It starts
// nothing: any error here leaves the machine as it was. A second manager
// for the same config gets ErrAlreadyRunning with the first one's pid.
func (m *Manager) Prepare() error {
	cfg := m.Config()
	lock, err := lockPID(cfg.StateDir)
	if err != nil {
		return err
	}
	if err := m.prepare(cfg); err != nil {
		lock.release()
		return err
	}
	m.lock = lock
	return nil
}

// StartAll starts every instance at once and waits until all are ready.
// An instance that fails its first start is reported in the returned error
// but keeps being retried with backoff, and the others keep running: one
// bad port never takes the rest down.
//
// Under systemd (Type=notify) it then sends READY=1, with a status line
// that counts the ready instances, whether or not all of them are.
func (m *Manager) StartAll(ctx context.Context) error {
	err := m.startAll(ctx, m.Config().Ports, instance.KeepTrying)
	m.writeTargets()
	m.warnIfUnsent(notify.Ready(m.readyStatus()))
	return err
}

// readyStatus is the one-line STATUS= systemd shows.
func (m *Manager) readyStatus() string {
	all := m.Instances()
	ready := 0
	for _, st := range all {
		if st.State == instance.Ready {
			ready++
		}
	}
	return fmt.Sprintf("%d of %d instances ready", ready, len(all))
}

// warnIfUnsent logs a notification to systemd that failed: systemd would then time the service
// out, and the log line says why.
func (m *Manager) warnIfUnsent(err error) {
	if err != nil {
		m.log.Warn("systemd notification", "err", err)
	}
}

// prepare checks the log folder, binds (or checks) every port, and listens
// on the control socket and the metrics address.
func (m *Manager) prepare(cfg *config.Config) (err error) {
	if !cfg.Logs.Journal() {
		if err := checkLogDir(cfg.Logs.Dir); err != nil {
			return err
		}
	}
	if m.sinks, err = m.logSinks(cfg); err != nil {
		return err
	}
	if err := writeUpstream(cfg); err != nil {
		return err
	}
	m.contain(cfg) // ends what a killed manager left holding the ports: see cgroups.go
	files, err := bindAll(cfg.Address, cfg.Ports, cfg.Reload.Handoff == config.HandoffSocket)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			closeAll(files)
			m.closeListeners()
		}
	}()
	if m.controlLn, err = control.Listen(cfg.Socket); err != nil {
		return err
	}
	if m.metricsLn, err = listenMetrics(cfg.Metrics.Address); err != nil {
		return err
	}
	for _, port := range cfg.Ports {
		s, err := m.newSlot(cfg, port, files[port])
		if err != nil {
			return err
		}
		m.addSlot(s)
	}
	return nil
}

func (m *Manager) closeListeners() {
	for _, ln := range []net.Listener{m.controlLn, m.metricsLn} {
		if ln != nil {
			ln.Close()
		}
	}
}

// Serve answers the control socket and the metrics endpoint until ctx
// ends. Call it after Prepare, typically on its own goroutine.
func (m *Manager) Serve(ctx context.Context) error {
	go m.serveRequests(ctx) // nginx's request log: requests.go
	errs := make(chan error, 2)
	go func() { errs <- control.Serve(ctx, m.controlLn, m.Config().Socket, control.Routes(m), m.log) }()
	go func() {
		if m.metricsLn == nil {
			errs <- nil
			return
		}
		errs <- m.serveMetrics(ctx, m.metricsLn)
	}()
	return errors.Join(<-errs, <-errs)
}

// startAll starts new instances on the given ports at once and waits
// for all.
func (m *Manager) startAll(ctx context.Context, ports []int, mode instance.StartMode) error {
	cfg := m.Config()
	insts := make([]*instance.Instance, len(ports))
	for i, port := range ports {
		insts[i] = m.installNew(cfg, port)
	}
	return startEach(ctx, insts, mode)
}

// startEach starts insts at once and waits for all.
func startEach(ctx context.Context, insts []*instance.Instance, mode instance.StartMode) error {
	errs := make([]error, len(insts))
	var wg sync.WaitGroup
	for i, inst := range insts {
		wg.Go(func() { errs[i] = inst.Start(ctx, mode) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Shutdown ends any rollout in progress (EndRollouts), then stops every
// instance gracefully (each bounded by the stop timeout, then SIGKILL),
// closes the ports and releases the lock. It is safe to call more than
// once.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.warnIfUnsent(notify.Stopping())
	m.EndRollouts()
	var slots map[int]*slot
	m.ports.do(func(t *portTable) { slots, t.slots = t.slots, map[int]*slot{} })
	var wg sync.WaitGroup
	for _, s := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.inst != nil {
				s.inst.Stop(ctx)
			}
			s.close()
		}()
	}
	wg.Wait()
	m.endHooks() // and what they started (hardening: hooks end at down)
	if m.journal != nil {
		m.journal.Close()
	}
	m.releaseCgroups()
	if m.lock != nil {
		m.lock.release()
		m.lock = nil
	}
	return ctx.Err()
}

// longestStop is the longest stop.timeout of the running instances, and
// at least the running config's: what a graceful Shutdown may take.
func (m *Manager) longestStop() time.Duration {
	var d time.Duration
	m.ports.do(func(t *portTable) {
		d = t.cfg.Stop.Timeout
		for _, s := range t.slots {
			if s.inst != nil {
				d = max(d, s.inst.Spec().StopTimeout)
			}
		}
	})
	return d
}

// RequestDown asks the manager's owner to shut down (the control
// socket's `down`). DownRequested is closed once it has been asked.
func (m *Manager) RequestDown()                   { m.downOnce.Do(func() { close(m.down) }) }
func (m *Manager) DownRequested() <-chan struct{} { return m.down }
