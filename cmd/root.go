// Package cmd holds hellomgr's command line: one file per command, each a
// thin cobra definition whose RunE calls a plain function a test can call.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
)

// Exit codes, as documented in the README.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // the command ran and failed: bad config, failed reload, no manager
	ExitUsage   = 2 // the command line itself is wrong
)

// usageError marks an error in how the command was called.
type usageError struct{ error }

// configFlag is the -c flag shared by every command.
type configFlag struct{ path string }

const configEnv = "HELLOMGR_CONFIG"

func (f *configFlag) register(c *cobra.Command) {
	def := os.Getenv(configEnv)
	if def == "" {
		def = "config.yaml"
	}
	c.Flags().StringVarP(&f.path, "config", "c", def, "config file (or $"+configEnv+")")
}

func (f *configFlag) load() (*config.Config, error) { return config.Load(f.path) }

// client returns a control client for the config's manager. It reads
// only the file's `socket:` (config.Socket), so a config that no longer
// parses still leads to its manager while someone fixes a typo.
func (f *configFlag) client() (*control.Client, error) {
	socket, err := config.Socket(f.path)
	if err != nil {
		return nil, err
	}
	return control.Dial(socket), nil
}

// status returns a control client for the config's manager and the
// manager's status.
func (f *configFlag) status(ctx context.Context) (*control.Client, control.Report, error) {
	client, err := f.client()
	if err != nil {
		return nil, control.Report{}, err
	}
	report, err := client.Status(ctx)
	return client, report, err
}

// clientFor returns a control client for cfg's manager.
func clientFor(cfg *config.Config) *control.Client { return control.Dial(cfg.Socket) }

// newRoot builds the command tree.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "hellomgr",
		Short: "Run one single-process web server per port and replace them without downtime",
		Long: `hellomgr runs one independent single-process web server per port listed in
config.yaml, supervises each on its own, and replaces them a few at a time on
reload, each new one ready before the next old one goes.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newUp(), newDown(), newReload(), newStatus(), newRestart(), newStop(), newStart(), newCheck(), newServe(), newNginx(), newTargets(), newLogs(), newCompletion(), newVersion(), newUpgrade(), newUpgradeCheck())
	return root
}

// Execute runs the command line and returns the exit code.
func Execute(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := unknownCommand(root, args)
	if err == nil {
		err = root.ExecuteContext(context.Background())
	}
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stderr, "hellomgr:", err)
	var usage usageError
	if errors.As(err, &usage) {
		fmt.Fprintln(stderr, "Run 'hellomgr --help' for usage.")
		return ExitUsage
	}
	return ExitFailure
}

// unknownCommand returns a usage error when args name no command: cobra
// reports that as a plain error, from the same lookup it runs itself.
func unknownCommand(root *cobra.Command, args []string) error {
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		return nil // shell completion: cobra adds these commands as it executes
	}
	if _, _, err := root.Find(args); err != nil {
		return usageError{err}
	}
	return nil
}

// exactArgs is cobra.ExactArgs with the error marked as a usage error.
func exactArgs(n int) cobra.PositionalArgs { return usageArgs(cobra.ExactArgs(n)) }

// maxArgs is cobra.MaximumNArgs with the error marked as a usage error.
func maxArgs(n int) cobra.PositionalArgs { return usageArgs(cobra.MaximumNArgs(n)) }

// usageArgs marks the errors of check as usage errors.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := check(c, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
