package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newReload() *cobra.Command {
	var cf configFlag
	c := &cobra.Command{
		Use:   "reload",
		Short: "Roll out config.yaml and new code, a few instances at a time",
		Long: `reload re-reads and validates the config before touching anything, then
starts added ports, replaces the others reload.max_unavailable at a time (each
new instance ready before the next old one goes) and stops removed ports.
A new instance that does not become ready halts the rollout: its port goes
back to the previous config and the ports not yet reached keep running.
Progress prints one line per step. Exit 1 when the rollout did not finish.`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			// A broken file is reported here, before the manager is asked:
			// the running processes are not touched either way.
			cfg, err := cf.load()
			if err != nil {
				return fmt.Errorf("config not reloaded, nothing changed:\n%w", err)
			}
			client := clientFor(cfg)
			out := c.OutOrStdout()
			return client.Reload(c.Context(), func(line string) { fmt.Fprintln(out, line) })
		},
	}
	cf.register(c)
	return c
}
