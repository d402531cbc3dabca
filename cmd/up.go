package cmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/manager"
)

type upOptions struct {
	config    configFlag
	detach    bool
	readyFD   int // set by a detaching `up` for the background manager it starts
	upgradeFD int // set by a manager that replaces its program with this one (upgrade.go)
}

func newUp() *cobra.Command {
	var o upOptions
	c := &cobra.Command{
		Use:   "up",
		Short: "Start one instance per configured port and supervise them",
		Long: `up checks that every port is free, starts one process per port (each in its
own session and cgroup), waits until every instance is ready and prints a status
table. It then stays in the foreground, showing each instance's output
prefixed by its port, until Ctrl-C or SIGTERM stops everything gracefully.
SIGHUP reloads, like 'hellomgr reload'. With -d it returns once all are
ready and leaves the manager running in the background.`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			if o.upgradeFD != 0 {
				return instance.ServeSpawns(func() error {
					return runResumed(c.Context(), &o.config, o.upgradeFD, c.OutOrStdout(), c.ErrOrStderr())
				})
			}
			cfg, err := o.config.load()
			if err != nil {
				return err
			}
			if o.readyFD == 0 { // not the background manager of an `up -d`
				printSwap(c.ErrOrStderr(), cfg)
			}
			if o.detach {
				return detach(c.Context(), cfg, c.OutOrStdout())
			}
			// The main thread forks every instance, so that an upgrade
			// can exec from it (instance.ServeSpawns).
			return instance.ServeSpawns(func() error {
				return runUp(c.Context(), cfg, o.readyFD, c.OutOrStdout(), c.ErrOrStderr())
			})
		},
	}
	o.config.register(c)
	c.Flags().BoolVarP(&o.detach, "detach", "d", false, "return once all instances are ready; the manager keeps running in the background")
	c.Flags().IntVar(&o.readyFD, "ready-fd", 0, "internal: report readiness on this file descriptor")
	c.Flags().MarkHidden("ready-fd")
	c.Flags().IntVar(&o.upgradeFD, "upgrade-fd", 0, "internal: take over from the manager program that handed its state over on this file descriptor")
	c.Flags().MarkHidden("upgrade-fd")
	return c
}

// runUp is the manager's life: prepare, start, serve the control socket and
// metrics, then wait for a signal or a `down`, and stop everything.
func runUp(ctx context.Context, cfg *config.Config, readyFD int, stdout, stderr io.Writer) error {
	closeInheritedFDs()
	// The manager allocates little once its instances run, and with
	// hundreds of them its heap is mostly long-lived: collecting at 25%
	// growth instead of 100% costs next to no CPU and keeps RSS near the
	// live heap.
	debug.SetGCPercent(25)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	// Echo the instances' output only where someone can read it: not in
	// the background, and not into /dev/null (systemd's
	// StandardOutput=null). Without an echo, each instance's output pipe
	// is spliced into its log file: the manager copies nothing.
	var console io.Writer
	if readyFD == 0 && !isDevNull(stdout) {
		console = stdout
	}
	m, err := newManager(cfg, log, console)
	if err != nil {
		return err
	}
	ready := newReadyReport(readyFD)
	if err := m.Prepare(); err != nil {
		ready.send(err)
		return err
	}
	sigs := notifySignals()
	defer signal.Stop(sigs)

	serveCtx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	go func() { logError(log, "serve", m.Serve(serveCtx)) }()

	startErr := m.StartAll(ctx)
	if startErr != nil {
		log.Error("not every instance started; the failed ones are retried with backoff", "err", startErr)
	}
	if err := m.ReloadNginx(ctx); err != nil {
		log.Warn("instances are up, but nginx was not reloaded; is it running?", "err", err)
	}
	ready.send(startErr)
	debug.FreeOSMemory() // the start's garbage goes back to the OS now, not minutes later
	if readyFD == 0 {
		printTable(stdout, m.Report())
	}
	return serveUntilStop(ctx, m, cfg, sigs, stopServing, log)
}

// newManager is the manager of cfg, running this binary for the built-in
// server.
func newManager(cfg *config.Config, log *slog.Logger, console io.Writer) (*manager.Manager, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the hellomgr binary: %w", err)
	}
	return manager.New(cfg, manager.Options{Self: self, Log: log, Console: console, Version: version()}), nil
}

// notifySignals are the manager's signals: stop, reload (SIGHUP) and
// upgrade (SIGUSR2).
func notifySignals() chan os.Signal {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR2)
	return sigs
}

// serveUntilStop waits for a signal or a `down`, then stops everything.
func serveUntilStop(ctx context.Context, m *manager.Manager, cfg *config.Config, sigs chan os.Signal, stopServing func(), log *slog.Logger) error {
	waitForStop(ctx, m, sigs, log)
	// A rollout in progress ends first, while the control socket still
	// answers, so that a client watching it hears why it stopped.
	m.EndRollouts()
	stopServing()
	return shutdown(m, cfg, sigs, log)
}

// waitForStop runs until SIGINT, SIGTERM or a `down` request; SIGHUP on
// the way starts a reload.
func waitForStop(ctx context.Context, m *manager.Manager, sigs <-chan os.Signal, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.DownRequested():
			return
		case sig := <-sigs:
			if sig == syscall.SIGUSR2 {
				go upgradeOnSignal(m, log)
				continue
			}
			if sig != syscall.SIGHUP {
				log.Info("stopping every instance", "signal", sig.String())
				return
			}
			go func() {
				progress := func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) }
				if err := m.Reload(context.Background(), progress); err != nil {
					log.Error("reload on SIGHUP failed", "err", err)
				}
			}()
		}
	}
}

// shutdown stops every instance gracefully. A second SIGINT or SIGTERM
// while it waits gives up waiting: the manager exits and the kernel kills
// the children (they run with a parent-death signal).
func shutdown(m *manager.Manager, cfg *config.Config, sigs <-chan os.Signal, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Stop.Timeout+5*time.Second)
	defer cancel()
	go func() {
		select {
		case sig := <-sigs:
			if sig != syscall.SIGHUP && sig != syscall.SIGUSR2 {
				log.Warn("second signal: not waiting for instances to finish", "signal", sig.String())
				cancel()
			}
		case <-ctx.Done():
		}
	}()
	if err := m.Shutdown(ctx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	log.Info("all instances stopped")
	return nil
}

func logError(log *slog.Logger, what string, err error) {
	if err != nil {
		log.Error(what, "err", err)
	}
}

// isDevNull reports whether w is /dev/null.
func isDevNull(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err == nil && os.SameFile(fi, null)
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
