package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/manager"
)

func newUpgrade() *cobra.Command {
	var (
		cf     configFlag
		binary string
	)
	c := &cobra.Command{
		Use:   "upgrade",
		Short: "Replace the running manager's program with this hellomgr binary; every instance keeps running",
		Long: `upgrade makes the running manager exec a new hellomgr binary in place (this
one, or --binary): the manager keeps its pid, and every instance keeps its
pid, its port (never closed), its log and its supervision. It is what a
package upgrade runs after replacing the binary, as nginx's SIGUSR2 (which
hellomgr's manager also takes to do the same with the binary it was started
from).

Refused before anything changes: while a rollout runs or an instance is
starting or stopping, when the config file differs from the running config
(reload first), and when the binary is not a hellomgr that reads this
manager's state. A new binary that fails to take over gives way to the old
program, which runs on; upgrade then exits 1 with the reason.`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			client, err := cf.client()
			if err != nil {
				return err
			}
			if binary == "" {
				if binary, err = os.Executable(); err != nil {
					return fmt.Errorf("find the hellomgr binary: %w", err)
				}
			}
			if binary, err = filepath.Abs(binary); err != nil {
				return err
			}
			return runUpgrade(c.Context(), client, binary, c.OutOrStdout())
		},
	}
	cf.register(c)
	c.Flags().StringVar(&binary, "binary", "", "the hellomgr binary the manager runs from now on (default: this one)")
	return c
}

// runUpgrade asks for the upgrade, then for the status the new program
// (or, when it could not take over, the old one) answers with.
func runUpgrade(ctx context.Context, client *manager.Client, binary string, out io.Writer) error {
	before, err := client.Status(ctx)
	if err != nil {
		return err
	}
	if err := client.Upgrade(ctx, binary, func(line string) { fmt.Fprintln(out, line) }); err != nil {
		return err
	}
	after, err := statusAfterExec(ctx, client)
	if err != nil {
		return fmt.Errorf("no answer from the manager after the exec: %w", err)
	}
	if after.Upgrades <= before.Upgrades {
		return fmt.Errorf("%s could not take over; the old program (hellomgr %s) runs on as pid %d: %s", binary, after.Version, after.PID, after.UpgradeErr)
	}
	pids := map[int]int{}
	for _, in := range before.Instances {
		pids[in.Port] = in.PID
	}
	kept := 0
	for _, in := range after.Instances {
		if in.PID != 0 && pids[in.Port] == in.PID {
			kept++
		}
	}
	fmt.Fprintf(out, "manager pid %d runs hellomgr %s (was %s); %d of %d instances kept their pid\n",
		after.PID, after.Version, before.Version, kept, len(after.Instances))
	return nil
}

// statusAfterExec asks for the status once the manager's program has
// been replaced. A connection that the program on its way out accepted
// is cut by the exec (as is one accepted by a new program that goes
// back to the old one): ask again, a few times. One that waits in the
// socket's queue is answered by whichever program then runs.
func statusAfterExec(ctx context.Context, client *manager.Client) (manager.Report, error) {
	for try := 1; ; try++ {
		r, err := client.Status(ctx)
		cut := errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if !cut || try == 5 {
			return r, err
		}
	}
}

// upgradeOnSignal is SIGUSR2: an upgrade to the binary at the path the
// manager was started from, as a package upgrade leaves it.
func upgradeOnSignal(m *manager.Manager, log *slog.Logger) {
	self, err := os.Executable()
	if err == nil {
		progress := func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) }
		err = m.Upgrade(context.Background(), self, progress, func(line string) { log.Info(line) })
	}
	log.Error("upgrade on SIGUSR2 failed", "err", err)
}

// newUpgradeCheck is what a manager runs on a binary before it execs it:
// the binary says it is a hellomgr, its version and the state format it
// reads, after reading the state to be handed over on stdin.
func newUpgradeCheck() *cobra.Command {
	return &cobra.Command{
		Use:    "upgrade-check",
		Short:  "internal: say whether this binary can take over from a running manager",
		Hidden: true,
		Args:   exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			in := c.InOrStdin()
			if f, ok := in.(*os.File); ok {
				if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
					in = nil // a terminal: no state to read
				}
			}
			var info manager.UpgradeInfo
			var err error
			if in == nil {
				info, err = manager.CheckUpgrade(eofReader{}, version())
			} else {
				info, err = manager.CheckUpgrade(in, version())
			}
			if err != nil {
				return err
			}
			return json.NewEncoder(c.OutOrStdout()).Encode(info)
		},
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// runResumed is the manager's life in a program that takes over from the
// previous one (`up --upgrade-fd N`, run by Manager.Upgrade): adopt what
// was handed over, or go back to the previous program, then as runUp.
func runResumed(ctx context.Context, cf *configFlag, fd int, stdout, stderr io.Writer) error {
	closeInheritedFDs()
	debug.SetGCPercent(25)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	st, err := manager.ReadUpgradeState(fd)
	if err != nil {
		return fmt.Errorf("take over: %w", err)
	}
	m, err := resume(cf, st, log, stdout)
	if err != nil {
		log.Error("cannot take over; going back to the previous program", "err", err)
		return manager.RollBack(st, fd, err)
	}
	sigs := notifySignals()
	defer signal.Stop(sigs)
	serveCtx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	go func() { logError(log, "serve", m.Serve(serveCtx)) }()
	if st.Error != "" {
		log.Error("upgrade failed; this program runs on", "err", st.Error)
	} else {
		log.Info("took over the running instances", "version", version(), "from", st.Version)
	}
	if err := m.Resumed(ctx, st, fd); err != nil {
		log.Error("not every instance started; the failed ones are retried with backoff", "err", err)
	}
	return serveUntilStop(ctx, m, m.Config(), sigs, stopServing, log)
}

func resume(cf *configFlag, st *manager.UpgradeState, log *slog.Logger, stdout io.Writer) (*manager.Manager, error) {
	cfg, err := cf.load()
	if err != nil {
		return nil, err
	}
	var console io.Writer
	if st.Console {
		console = stdout
	}
	m, err := newManager(cfg, log, console)
	if err != nil {
		return nil, err
	}
	if err := m.Resume(st); err != nil {
		return nil, err
	}
	return m, nil
}
