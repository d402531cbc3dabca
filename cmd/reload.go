package cmd

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/control"
)

func newReload() *cobra.Command {
	var (
		cf   configFlag
		opts control.ReloadOptions
	)
	c := &cobra.Command{
		Use:   "reload",
		Short: "Roll out config.yaml and new code, a few instances at a time",
		Long: `reload re-reads and validates the config before touching anything, then
starts added ports, replaces the others reload.max_unavailable at a time (each
new instance ready before the next old one goes) and stops removed ports.
A new instance that does not become ready halts the rollout: its port goes
back to the previous config and the ports not yet reached keep running.
Progress prints one line per step. Exit 1 when the rollout did not finish.

With --canary N, the first N ports to replace are replaced, then watched for
--watch. The reload goes on with the rest only if no canary restarted,
failed its liveness probe or memory limit, or (where the app counts its
requests in http_requests_total on /metrics, as the built-in server does)
answered a larger share of 5xx than the ports still on the old code over
the same window. Otherwise the canaries go back to the previous config and
reload exits 1 with the evidence, one line per port.`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			if c.Flags().Changed("watch") && opts.Canary == 0 {
				return usageError{fmt.Errorf("--watch %s: only with --canary N, whose canaries it watches; add --canary 1, or leave --watch out", opts.Watch)}
			}
			return runReload(c.Context(), &cf, opts, c.OutOrStdout())
		},
	}
	cf.register(c)
	c.Flags().IntVar(&opts.Canary, "canary", 0, "replace this many ports first, watch them, and go on only if they hold up")
	c.Flags().DurationVar(&opts.Watch, "watch", time.Minute, "with --canary, how long to watch the canaries")
	return c
}

// runReload asks the config's manager for a rollout, printing each step.
func runReload(ctx context.Context, cf *configFlag, opts control.ReloadOptions, out io.Writer) error {
	// A broken file is reported here, before the manager is asked: the
	// running processes are not touched either way.
	cfg, err := cf.load()
	if err != nil {
		return fmt.Errorf("config not reloaded, nothing changed:\n%w", err)
	}
	if opts.Canary < 0 {
		return usageError{fmt.Errorf("--canary %d: want 0 or more ports", opts.Canary)}
	}
	if opts.Canary > 0 && opts.Watch <= 0 {
		return usageError{fmt.Errorf("--watch %s: want a window longer than 0 to watch the canary for", opts.Watch)}
	}
	return clientFor(cfg).ReloadWith(ctx, opts, func(line string) { fmt.Fprintln(out, line) })
}
