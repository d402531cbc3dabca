package manager

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/internal/heldsig"
)

// RunOptions are the parts of the manager's life (Run, RunResumed) that
// come from the command line.
type RunOptions struct {
	// Options are as for New; an empty Self is this program's binary.
	// RunResumed echoes to Console only if the program it takes over
	// from echoed its instances' output.
	Options
	// ReadyFD, when not 0, is a pipe that a detaching `up` waits on: Run
	// writes "ok" or why the start failed, then closes it.
	ReadyFD int
	// Started, when set, is called with the status once Run has started
	// every instance (the foreground `up` prints it as a table).
	Started func(control.Report)
}

// Run is the manager's life in the program `hellomgr up` runs: prepare,
// serve the control socket and metrics, start every instance, reload
// nginx, then wait for SIGINT, SIGTERM or a `down` and stop everything.
// SIGHUP on the way reloads; SIGUSR2 upgrades to the binary the manager
// was started from. It returns once every instance has stopped, with
// what kept the manager from starting or stopping cleanly. An instance
// that fails to start is logged and retried with backoff: it does not
// end Run.
//
// Run must be called from the main goroutine: the main thread forks
// every instance, so that an upgrade can exec from it
// (instance.ServeSpawns).
func Run(ctx context.Context, cfg *config.Config, o RunOptions) error {
	return instance.ServeSpawns(func() error {
		o = settleProcess(o)
		m, err := newRunning(cfg, o.Options)
		if err != nil {
			return err
		}
		ready := newReadyReport(o.ReadyFD)
		if err := m.Prepare(); err != nil {
			ready.send(err)
			return err
		}
		l := life{m: m, log: o.Log}
		return l.live(ctx, func() { l.start(ctx, ready, o.Started) })
	})
}

// RunResumed is the manager's life in a program that takes over from the
// previous one (`up --upgrade-fd N`, run by Manager.Upgrade): it adopts
// the instances handed over on stateFD, or, when it cannot, goes back to
// the previous program (RollBack); then it lives on as Run does. Like
// Run, it must be called from the main goroutine.
func RunResumed(ctx context.Context, configPath string, stateFD int, o RunOptions) error {
	return instance.ServeSpawns(func() error {
		o = settleProcess(o)
		st, err := ReadUpgradeState(stateFD)
		if err != nil {
			return fmt.Errorf("take over: %w", err)
		}
		m, err := resumeFrom(configPath, st, o.Options)
		if err != nil && st.Error != "" {
			// Gone back to already: going back again would loop.
			o.Log.Error("the previous program cannot resume either", "err", err, "upgrade error", st.Error)
			return fmt.Errorf("resume after a failed upgrade (%s): %w", st.Error, err)
		}
		if err != nil {
			o.Log.Error("cannot take over; going back to the previous program", "err", err)
			return RollBack(st, stateFD, err)
		}
		l := life{m: m, log: o.Log}
		return l.live(ctx, func() { l.resumed(ctx, st, stateFD, o.Version) })
	})
}

// settleProcess readies the manager process and fills in o's defaults.
func settleProcess(o RunOptions) RunOptions {
	closeInheritedFDs()
	// The manager allocates little once its instances run, and with
	// hundreds of them its heap is mostly long-lived: collecting at 25%
	// growth instead of 100% costs next to no CPU and keeps RSS near the
	// live heap.
	debug.SetGCPercent(25)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// newRunning is the manager of cfg, running this binary for the built-in
// server unless o names another.
func newRunning(cfg *config.Config, o Options) (*Manager, error) {
	if o.Self == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the hellomgr binary: %w", err)
		}
		o.Self = self
	}
	return New(cfg, o), nil
}

// resumeFrom is the manager of the config at configPath, with the instances
// handed over in st. It runs the config as the program before loaded it
// (st.ConfigText), whatever the file says now: an upgrade changes the
// program, a reload the config.
func resumeFrom(configPath string, st *UpgradeState, o Options) (*Manager, error) {
	cfg, err := config.Load(configPath)
	if len(st.ConfigText) > 0 {
		cfg, err = config.Parse(configPath, st.ConfigText)
	}
	if err != nil {
		return nil, err
	}
	if !st.Console {
		o.Console = nil
	}
	m, err := newRunning(cfg, o)
	if err != nil {
		return nil, err
	}
	if err := m.Resume(st); err != nil {
		return nil, err
	}
	return m, nil
}

// life is one manager's life once it is prepared (or resumed).
type life struct {
	m   *Manager
	log *slog.Logger
}

// live serves the control socket and metrics, runs begin, waits for a
// signal or a `down`, then stops everything.
func (l life) live(ctx context.Context, begin func()) error {
	sigs := notifySignals()
	defer signal.Stop(sigs)
	serveCtx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	go func() { l.logError("serve", l.m.Serve(serveCtx)) }()
	begin()
	l.waitForStop(ctx, sigs)
	// A rollout in progress ends first, while the control socket still
	// answers, so that a client watching it hears why it stopped.
	l.m.EndRollouts()
	stopServing()
	return l.shutdown(sigs)
}

// start starts every instance and reloads nginx, then reports how the
// start went.
func (l life) start(ctx context.Context, ready *readyReport, started func(control.Report)) {
	startErr := l.m.StartAll(ctx)
	if startErr != nil {
		l.log.Error("not every instance started; the failed ones are retried with backoff", "err", startErr)
	}
	if err := l.m.ReloadNginx(ctx); err != nil {
		l.log.Warn("instances are up, but nginx was not reloaded; is it running?", "err", err)
	}
	ready.send(startErr)
	debug.FreeOSMemory() // the start's garbage goes back to the OS now, not minutes later
	if started != nil {
		started(l.m.Report())
	}
}

// resumed says whether the upgrade took, then restarts what was handed
// over stopped.
func (l life) resumed(ctx context.Context, st *UpgradeState, stateFD int, version string) {
	if st.Error != "" {
		l.log.Error("upgrade failed; this program runs on", "err", st.Error)
	} else {
		l.log.Info("took over the running instances", "version", version, "from", st.Version)
	}
	if err := l.m.Resumed(ctx, st, stateFD); err != nil {
		l.log.Error("not every instance started; the failed ones are retried with backoff", "err", err)
	}
	if st.ReloadAfter {
		l.log.Info("carrying out the reload asked for during the upgrade")
		l.reloadOnSignal()
	}
}

// notifySignals are the manager's signals: stop, reload (SIGHUP) and
// upgrade (SIGUSR2), with those that arrived since the program began if
// it takes over from another (package heldsig).
func notifySignals() chan os.Signal { return heldsig.Take() }

// waitForStop runs until SIGINT, SIGTERM or a `down` request; SIGHUP and
// SIGUSR2 on the way start a reload and an upgrade.
func (l life) waitForStop(ctx context.Context, sigs <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.m.DownRequested():
			return
		case sig := <-sigs:
			switch sig {
			case syscall.SIGUSR2:
				go l.upgradeOnSignal()
			case syscall.SIGHUP:
				go l.reloadOnSignal()
			default:
				l.log.Info("stopping every instance", "signal", sig.String())
				return
			}
		}
	}
}

// reloadOnSignal is SIGHUP: a reload, as `hellomgr reload`, or after the
// upgrade in progress (AskReload).
func (l life) reloadOnSignal() {
	if err := l.m.AskReload(context.Background(), l.progress); err != nil {
		l.log.Error("reload on SIGHUP failed", "err", err)
	}
}

// upgradeOnSignal is SIGUSR2: an upgrade to the binary at the path the
// manager was started from, as a package upgrade leaves it. It returns
// only when the upgrade failed: one that succeeds replaces the program.
func (l life) upgradeOnSignal() {
	self, err := os.Executable()
	if err == nil {
		err = l.m.Upgrade(context.Background(), self, l.progress, func(line string) { l.log.Info(line) })
	}
	l.log.Error("upgrade on SIGUSR2 failed", "err", err)
}

func (l life) progress(format string, args ...any) { l.log.Info(fmt.Sprintf(format, args...)) }

// shutdown stops every instance gracefully, giving each the stop.timeout
// it was started with (a reload may have changed it). A second SIGINT or
// SIGTERM while it waits gives up waiting: the manager exits and the
// kernel kills the children (they run with a parent-death signal).
func (l life) shutdown(sigs <-chan os.Signal) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.m.longestStop()+5*time.Second)
	defer cancel()
	go func() {
		select {
		case sig := <-sigs:
			if sig != syscall.SIGHUP && sig != syscall.SIGUSR2 {
				l.log.Warn("second signal: not waiting for instances to finish", "signal", sig.String())
				cancel()
			}
		case <-ctx.Done():
		}
	}()
	if err := l.m.Shutdown(ctx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	l.log.Info("all instances stopped")
	return nil
}

func (l life) logError(what string, err error) {
	if err != nil {
		l.log.Error(what, "err", err)
	}
}

// readyReport tells a detaching `up` how the background manager's start
// went, over a pipe it inherited: "ok", or the error, then EOF.
type readyReport struct{ f *os.File }

func newReadyReport(fd int) *readyReport {
	if fd == 0 {
		return &readyReport{}
	}
	// The pipe must not leak into the instances, or the waiting `up -d`
	// would only see EOF when the last of them exits.
	syscall.CloseOnExec(fd)
	return &readyReport{f: os.NewFile(uintptr(fd), "ready")}
}

// send reports err (nil: "ok") and closes the pipe; it does nothing
// after the first call, or without a pipe.
func (r *readyReport) send(err error) {
	if r.f == nil {
		return
	}
	if err != nil {
		fmt.Fprint(r.f, err.Error())
	} else {
		fmt.Fprint(r.f, "ok")
	}
	r.f.Close()
	r.f = nil
}

// closeInheritedFDs marks every descriptor the manager inherited (beyond
// stdin, stdout and stderr) close-on-exec, so none leaks into instances:
// a leaked pipe or socket would keep whoever started us waiting, or a port
// open, long after it should be gone.
func closeInheritedFDs() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
