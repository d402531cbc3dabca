package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/logs"
	"github.com/hellomgr/hellomgr/manager"
)

func newCheck() *cobra.Command {
	var cf configFlag
	c := &cobra.Command{
		Use:   "check",
		Short: "Validate the config and show what a reload would do, without doing it",
		Long: `check is the 'nginx -t' of hellomgr: it validates the config (every problem,
with its file, line and key) and, when a manager runs for it, shows what a
reload would do: ports added, removed and replaced, and added ports that
another program holds. It also says how a rollout swaps each port (handoff +
READY=1, handoff alone, nginx drain or stop-then-start) and, where a client
of nginx can see a failed request, which requests and the one change that
saves them. Exit 0 when a reload would go ahead, 1 otherwise.`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			return runCheck(c.Context(), &cf, c.OutOrStdout())
		},
	}
	cf.register(c)
	return c
}

// runCheck validates the config, says how its rollouts go, then what a
// reload would do (manager.PlanReload). A port another program holds
// fails it.
func runCheck(ctx context.Context, cf *configFlag, out io.Writer) error {
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: ok, %d ports, %s\n", cfg.File, len(cfg.Ports), describeCommand(cfg))
	printSwap(out, cfg)
	printHealth(out, cfg)   // liveness and limits.memory: health.go
	printRealtime(out, cfg) // websockets and long-polls: realtime.go
	if err := manager.CheckPaths(cfg); err != nil {
		return err
	}
	if err := checkJournal(cfg); err != nil {
		return err
	}
	plan, err := manager.PlanReload(ctx, cfg)
	if err != nil {
		return err
	}
	if plan.PID == 0 {
		fmt.Fprintln(out, "no manager is running for this config: `hellomgr up` would start every port")
	} else {
		fmt.Fprintf(out, "manager pid %d: a reload would\n", plan.PID)
		fmt.Fprintf(out, "  replace: %s\n  add:     %s\n  remove:  %s\n", orNone(plan.Replaced), orNone(plan.Added), orNone(plan.Removed))
	}
	return errors.Join(plan.Taken...)
}

// checkJournal connects to the journal as `up` does (the manager's
// logSinks) when logs.to is journal, so that check does not say ok for a
// config up then refuses.
func checkJournal(cfg *config.Config) error {
	if !cfg.Logs.Journal() {
		return nil
	}
	j, err := logs.DialJournal(logs.JournalSocket())
	if err != nil {
		return fmt.Errorf("%s: logs.to: journal: %w; hellomgr up would refuse to start: run it where journald listens (under systemd), or set logs.to: file", cfg.File, err)
	}
	return j.Close()
}

func describeCommand(cfg *config.Config) string {
	switch {
	case len(cfg.Command) == 0:
		return "built-in server"
	case cfg.BuiltIn():
		return "built-in server (" + cfg.Command[0] + " serve)"
	}
	return "command " + cfg.Command[0]
}

// printSwap states how a rollout of cfg swaps each port and, when a
// request can fail, which ones and the change that saves them.
func printSwap(out io.Writer, cfg *config.Config) {
	for _, line := range manager.SwapOf(cfg).Lines() {
		fmt.Fprintln(out, line)
	}
}

func orNone(ports []int) string {
	if len(ports) == 0 {
		return "none"
	}
	return config.PortList(ports)
}
