package cmd

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
)

// portOp is one of restart, stop, start: a streamed request for some ports.
type portOp func(c *control.Client, ctx context.Context, ports []int, line func(string)) error

// newPortCommand builds restart, stop and start, which differ only in what
// they ask the manager.
func newPortCommand(use, short, long string, op portOp) *cobra.Command {
	var cf configFlag
	c := &cobra.Command{
		Use:   use + " PORT...",
		Short: short,
		Long:  long,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("%s: name at least one port", use)}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return runPortOp(c.Context(), &cf, args, op, c.OutOrStdout())
		},
	}
	cf.register(c)
	return c
}

// runPortOp asks the config's manager for op on the ports named in args,
// printing each step.
func runPortOp(ctx context.Context, cf *configFlag, args []string, op portOp, out io.Writer) error {
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	ports, err := configuredPorts(cfg, args)
	if err != nil {
		return err
	}
	return op(clientFor(cfg), ctx, ports, func(line string) { fmt.Fprintln(out, line) })
}

// configuredPorts parses port arguments; one that is not a number or not
// in the config, or a port named twice, is a usage error.
func configuredPorts(cfg *config.Config, args []string) ([]int, error) {
	ports := make([]int, 0, len(args))
	for _, a := range args {
		p, err := strconv.Atoi(a)
		if err != nil {
			return nil, usageError{fmt.Errorf("port %s is not in %s (configured: %s)", a, cfg.File, config.PortList(cfg.Ports))}
		}
		ports = append(ports, p)
	}
	if err := cfg.CheckNamed(ports, cfg.File); err != nil {
		return nil, usageError{err}
	}
	return ports, nil
}

func newRestart() *cobra.Command {
	return newPortCommand("restart", "Replace the instances on the given ports, each ready before the next goes",
		`restart replaces just the instances on the given ports under the current
config, with the same readiness gating (and nginx drain) as reload. A port
stopped with 'hellomgr stop' is started again.`,
		(*control.Client).Restart)
}

func newStop() *cobra.Command {
	return newPortCommand("stop", "Stop the instances on the given ports for maintenance",
		`stop takes the instances on the given ports out of the nginx upstream (when
configured), stops them gracefully and closes their ports. They stay stopped,
across reloads too, until 'hellomgr start'.`,
		(*control.Client).Stop)
}

func newStart() *cobra.Command {
	return newPortCommand("start", "Start the instances on the given ports that are not running",
		`start starts the instances on the given ports that are stopped or failed, each
ready before the next, and puts them back into the nginx upstream.`,
		(*control.Client).Start)
}
