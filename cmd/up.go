package cmd

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/manager"
)

type upOptions struct {
	config    configFlag
	detach    bool
	readyFD   int // set by a detaching `up` for the background manager it starts
	upgradeFD int // set by a manager that replaces its program with this one (manager/upgrade.go)
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
			return o.run(c.Context(), c.OutOrStdout(), c.ErrOrStderr())
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

// run is the manager's life (manager.Run), here or, with -d, in the
// background; or, with --upgrade-fd, the rest of a life that a previous
// program began (manager.RunResumed).
func (o *upOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	opts := manager.RunOptions{
		Options: manager.Options{Log: slog.New(slog.NewTextHandler(stderr, nil)), Version: version()},
		ReadyFD: o.readyFD,
	}
	if o.upgradeFD != 0 {
		opts.Console = stdout // where the previous program echoed, if it did
		return manager.RunResumed(ctx, o.config.path, o.upgradeFD, opts)
	}
	cfg, err := o.config.load()
	if err != nil {
		return err
	}
	if o.readyFD == 0 { // not the background manager of an `up -d`
		printSwap(stderr, cfg)
	}
	if o.detach {
		return detach(ctx, cfg, stdout)
	}
	if o.readyFD == 0 {
		showOn(stdout, &opts)
	}
	return manager.Run(ctx, cfg, opts)
}

// showOn makes a manager in the foreground show, on stdout, the status
// table once it has started and, where someone can read it, its
// instances' output: not into /dev/null (systemd's StandardOutput=null).
// Without an echo, each instance's output pipe is spliced into its log
// file: the manager copies nothing.
func showOn(stdout io.Writer, opts *manager.RunOptions) {
	if !isDevNull(stdout) {
		opts.Console = stdout
	}
	opts.Started = func(r control.Report) { printTable(stdout, r) }
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
