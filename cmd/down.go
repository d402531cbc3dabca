package cmd

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

func newDown() *cobra.Command {
	var cf configFlag
	c := &cobra.Command{
		Use:   "down",
		Short: "Stop every instance gracefully, then the manager",
		Long:  `down stops every instance gracefully and then the manager, and returns once the manager has exited, so every port is closed.`,
		Args:  exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			return runDown(c.Context(), &cf, c.OutOrStdout())
		},
	}
	cf.register(c)
	return c
}

// runDown asks the config's manager to stop, and waits until it has
// exited.
func runDown(ctx context.Context, cf *configFlag, out io.Writer) error {
	client, report, err := cf.status(ctx)
	if err != nil {
		return err
	}
	if err := client.Down(ctx, func(line string) { fmt.Fprintln(out, line) }); err != nil {
		return err
	}
	if err := waitExit(report.PID, 2*time.Minute); err != nil {
		return err
	}
	fmt.Fprintf(out, "stopped (manager pid %d)\n", report.PID)
	return nil
}
