package cmd

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/manager"
)

func clientFor(cfg *config.Config) *manager.Client { return manager.Dial(cfg.Socket) }

func newDown() *cobra.Command {
	var cf configFlag
	c := &cobra.Command{
		Use:   "down",
		Short: "Stop every instance gracefully, then the manager",
		Long:  `down stops every instance gracefully and then the manager, and returns once the manager has exited, so every port is closed.`,
		Args:  exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			client, err := cf.client()
			if err != nil {
				return err
			}
			report, err := client.Status(c.Context())
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if err := client.Down(c.Context(), func(line string) { fmt.Fprintln(out, line) }); err != nil {
				return err
			}
			if err := waitExit(report.PID, 2*time.Minute); err != nil {
				return err
			}
			fmt.Fprintf(out, "stopped (manager pid %d)\n", report.PID)
			return nil
		},
	}
	cf.register(c)
	return c
}
