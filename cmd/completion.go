package cmd

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// shells are the scripts cobra writes, by shell name.
var shells = map[string]func(root *cobra.Command, w io.Writer) error{
	"bash":       func(root *cobra.Command, w io.Writer) error { return root.GenBashCompletionV2(w, true) },
	"zsh":        func(root *cobra.Command, w io.Writer) error { return root.GenZshCompletion(w) },
	"fish":       func(root *cobra.Command, w io.Writer) error { return root.GenFishCompletion(w, true) },
	"powershell": func(root *cobra.Command, w io.Writer) error { return root.GenPowerShellCompletionWithDesc(w) },
}

// newCompletion replaces cobra's default completion command, whose parent
// prints its help and exits 0 for a shell it does not know; this one says
// which shells it knows and exits 2.
func newCompletion() *cobra.Command {
	names := make([]string, 0, len(shells))
	for name := range shells {
		names = append(names, name)
	}
	slices.Sort(names)
	return &cobra.Command{
		Use:   "completion SHELL",
		Short: "Print the shell completion script for bash, zsh, fish or powershell",
		Long: `completion prints a script that lets the shell complete hellomgr's commands,
flags and, for 'logs PORT', the configured ports. The bash script needs the
bash-completion package (installed by default on Debian). Load it in every
new shell as the examples show.`,
		Example: `  # bash, for yourself (in ~/.bashrc) or for every user:
  source <(hellomgr completion bash)
  hellomgr completion bash > /etc/bash_completion.d/hellomgr
  # zsh (then start a new shell):
  hellomgr completion zsh > "${fpath[1]}/_hellomgr"
  # fish:
  hellomgr completion fish > ~/.config/fish/completions/hellomgr.fish`,
		ValidArgs: names,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 || shells[args[0]] == nil {
				return usageError{fmt.Errorf("want one shell: %s", strings.Join(names, ", "))}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return shells[args[0]](c.Root(), c.OutOrStdout())
		},
	}
}

// completePorts offers the ports of the config named by cf for a command
// that takes at most max PORT arguments (0: any number), leaving out the
// ports already given.
func completePorts(cf *configFlag, max int) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cfg, err := cf.load()
		if err != nil || (max > 0 && len(args) >= max) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var ports []cobra.Completion
		for _, p := range cfg.Ports {
			if s := strconv.Itoa(p); !slices.Contains(args, s) {
				ports = append(ports, s)
			}
		}
		return ports, cobra.ShellCompDirectiveNoFileComp
	}
}
