package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"

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

// maxArgs is cobra.MaximumNArgs with the error marked as a usage error.
func maxArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := cobra.MaximumNArgs(n)(c, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

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
	ports, prefixed := cfg.Ports, true
	if len(args) == 1 {
		port, err := strconv.Atoi(args[0])
		if err != nil || !slices.Contains(cfg.Ports, port) {
			return usageError{fmt.Errorf("port %s is not in %s (configured: %s)", args[0], cfg.File, joinPorts(cfg.Ports))}
		}
		ports, prefixed = []int{port}, false
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	followers := make([]*follower, len(ports))
	defer func() {
		for _, fl := range followers {
			if fl != nil {
				fl.Close()
			}
		}
	}()
	for i, port := range ports {
		fl := &follower{Follower: logs.NewFollower(cfg.Logs.Dir, port)}
		if prefixed {
			fl.prefix = strconv.Itoa(port) + " | "
		}
		followers[i] = fl
		lines, err := fl.Tail(o.lines)
		if errors.Is(err, fs.ErrNotExist) && !o.follow && len(lines) == 0 {
			fmt.Fprintf(stderr, "hellomgr: port %d has no log yet (%s)\n", port, logs.File(cfg.Logs.Dir, port))
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for _, line := range lines {
			fl.emit(out, []byte(line))
		}
	}
	if !o.follow {
		return nil
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return follow(ctx, followers, out)
}

// follower reads one port's log (logs.Follower), each line printed with
// the port's prefix when every port is shown.
type follower struct {
	*logs.Follower
	prefix string
}

func (fl *follower) emit(w *bufio.Writer, line []byte) {
	w.WriteString(fl.prefix)
	w.Write(line)
	w.WriteByte('\n')
}

// followEvery is how often -f looks for new lines. Polling, rather than
// inotify, keeps it simple and works on every file system; a quarter of a
// second is quick enough for a person watching, and a follower that falls
// behind catches up through the rotated files.
const followEvery = 250 * time.Millisecond

// follow polls every follower until ctx ends.
func follow(ctx context.Context, followers []*follower, out *bufio.Writer) error {
	tick := time.NewTicker(followEvery)
	defer tick.Stop()
	for {
		for _, fl := range followers {
			if err := fl.Poll(func(line []byte) { fl.emit(out, line) }); err != nil {
				return err
			}
		}
		if err := out.Flush(); err != nil {
			return err // stdout closed: nobody is reading any more
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
