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
failed its liveness probe or memory limit, stopped answering (a stopped
process, a /metrics or readiness path that no longer answers, nothing from
it in nginx's record while the old ports answer), received no request at
all (unless --allow-idle), or answered a larger share of 5xx or much more
slowly than the ports still on the old code over the same window. Its
answers are read from nginx's record (the access_log line that
hellomgr nginx prints, for any app) and from the app's own
http_requests_total on /metrics where it has one (the built-in server
does), the manager's own reads taken out. Otherwise the canaries go back
to the previous config and reload exits 1 with the evidence, one line per
port. See docs/metrics.md.`,
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
	c.Flags().BoolVar(&opts.AllowIdle, "allow-idle", false, "with --canary, let a canary that received no request during the watch pass")
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
