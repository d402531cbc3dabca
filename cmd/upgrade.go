package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/manager"
)

type upgradeOptions struct {
	config configFlag
	binary string
}

func newUpgrade() *cobra.Command {
	var o upgradeOptions
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
			return o.run(c.Context(), c.OutOrStdout())
		},
	}
	o.config.register(c)
	c.Flags().StringVar(&o.binary, "binary", "", "the hellomgr binary the manager runs from now on (default: this one)")
	return c
}

// run upgrades the config's manager to the binary named, by its absolute
// path (default: this one).
func (o *upgradeOptions) run(ctx context.Context, out io.Writer) error {
	client, err := o.config.client()
	if err != nil {
		return err
	}
	binary := o.binary
	if binary == "" {
		if binary, err = os.Executable(); err != nil {
			return fmt.Errorf("find the hellomgr binary: %w", err)
		}
	}
	if binary, err = filepath.Abs(binary); err != nil {
		return err
	}
	return runUpgrade(ctx, client, binary, out)
}

// runUpgrade asks for the upgrade, then for the status the new program
// (or, when it could not take over, the old one) answers with.
func runUpgrade(ctx context.Context, client *control.Client, binary string, out io.Writer) error {
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
func statusAfterExec(ctx context.Context, client *control.Client) (control.Report, error) {
	for try := 1; ; try++ {
		r, err := client.Status(ctx)
		cut := errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if !cut || try == 5 {
			return r, err
		}
	}
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
			return upgradeCheck(c.InOrStdin(), c.OutOrStdout())
		},
	}
}

// upgradeCheck reads the state to be handed over from in (nothing from a
// terminal) and writes, as JSON, what manager.CheckUpgrade says of this
// binary.
func upgradeCheck(in io.Reader, out io.Writer) error {
	if f, ok := in.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			in = strings.NewReader("") // a terminal: no state to read
		}
	}
	info, err := manager.CheckUpgrade(in, version())
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(info)
}
