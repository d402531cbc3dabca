package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/logs"
)

type logsOptions struct {
	config configFlag
	follow bool
	lines  int
}

func newLogs() *cobra.Command {
	var o logsOptions
	c := &cobra.Command{
		Use:   "logs [PORT]",
		Short: "Show the last lines of one port's log, or of every port's; -f follows them",
		Long: `logs prints the last lines (-n, default 20) of the instance log of PORT, or,
without PORT, of every configured port in turn, each line prefixed with
"PORT | ". The lines come from logs.dir, and from the files rotation renamed
aside when the current one is shorter. With -f it then prints every line as
it is written, across rotations and restarts, until Ctrl-C. It reads the
files only: it works with or without a running manager.`,
		Example: `  hellomgr logs            # the last 20 lines of every port
  hellomgr logs 8002 -n 100
  hellomgr logs -f         # follow every port`,
		Args:              maxArgs(1),
		ValidArgsFunction: completePorts(&o.config, 1),
		RunE: func(c *cobra.Command, args []string) error {
			return o.run(c.Context(), args, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	o.config.register(c)
	c.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep printing lines as they are written, until Ctrl-C")
	c.Flags().IntVarP(&o.lines, "lines", "n", 20, "how many of the last lines to print first, per port")
	return c
}

// run prints the log of the port in args or, without one, of every port.
func (o *logsOptions) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := o.config.load()
	if err != nil {
		return err
	}
	if o.lines < 0 {
		return usageError{fmt.Errorf("-n must be 0 or more, got %d", o.lines)}
	}
	if cfg.Logs.Journal() {
		port := strconv.Itoa(cfg.Ports[0])
		if len(args) == 1 {
			port = args[0]
		}
		return fmt.Errorf("%s: logs.to is journal, so there are no log files; try: journalctl -u hellomgr HELLOMGR_PORT=%s", cfg.File, port)
	}
	if len(args) == 0 {
		return o.print(ctx, cfg.Logs.Dir, cfg.Ports, true, stdout, stderr)
	}
	ports, err := configuredPorts(cfg, args)
	if err != nil {
		return err
	}
	return o.print(ctx, cfg.Logs.Dir, ports, false, stdout, stderr)
}

// print prints the last lines of each port's log and, with -f, follows
// them until SIGINT or SIGTERM.
func (o *logsOptions) print(ctx context.Context, dir string, ports []int, prefixed bool, stdout, stderr io.Writer) error {
	p := logs.NewPrinter(stdout, dir, ports, prefixed)
	defer p.Close()
	missing := func(port int) {
		fmt.Fprintf(stderr, "hellomgr: port %d has no log yet (%s)\n", port, logs.File(dir, port))
	}
	if o.follow {
		missing = nil // -f shows its lines once it is written
	}
	if err := p.Tail(o.lines, missing); err != nil || !o.follow {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return p.Follow(ctx)
}
