package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/control"
)

func newStatus() *cobra.Command {
	var (
		cf     configFlag
		asJSON bool
		w      watchOptions
	)
	c := &cobra.Command{
		Use:   "status",
		Short: "Show every instance: port, pid, state, uptime, restarts, memory, CPU",
		Args:  exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			if w.on {
				if asJSON {
					return usageError{errors.New("--watch and --json go apart: --watch redraws the table, --json prints once")}
				}
				return runWatch(c.Context(), &cf, w, c.OutOrStdout())
			}
			return runStatus(c.Context(), &cf, asJSON, c.OutOrStdout())
		},
	}
	cf.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON array, one object per instance")
	c.Flags().BoolVarP(&w.on, "watch", "w", false, "redraw the table in place every --interval, until Ctrl-C")
	c.Flags().DurationVar(&w.interval, "interval", time.Second, "time between two tables with --watch")
	return c
}

// runStatus prints the status of the config's manager: a table, or a
// JSON array of its instances.
func runStatus(ctx context.Context, cf *configFlag, asJSON bool, out io.Writer) error {
	_, report, err := cf.status(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(report.Instances)
	}
	printTable(out, report)
	return nil
}

// printTable writes the status table that `up` and `status` show.
func printTable(out io.Writer, r control.Report) {
	// One write for the whole table: tabwriter writes each cell and its
	// padding apart, thousands of write(2) calls at 256 instances.
	w := bufio.NewWriter(out)
	defer w.Flush()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PORT\tPID\tSTATE\tUPTIME\tRESTARTS\tRSS\tCPU")
	for _, in := range r.Instances {
		pid, uptime, rss, cpu := "-", "-", "-", "-"
		if in.PID != 0 {
			pid = fmt.Sprint(in.PID)
			uptime = (time.Duration(in.Uptime) * time.Second).String()
			rss = fmt.Sprintf("%.1fMiB", float64(in.RSS)/(1<<20))
			cpu = fmt.Sprintf("%.2fs", in.CPU)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", in.Port, pid, in.State, uptime, in.Restarts, rss, cpu)
	}
	tw.Flush()
	line := fmt.Sprintf("manager pid %d", r.PID)
	if r.Version != "" {
		line += ", hellomgr " + r.Version
	}
	if r.MetricsAddr != "" {
		line += fmt.Sprintf(", metrics on http://%s/metrics, status page http://%s/", r.MetricsAddr, r.MetricsAddr)
	}
	fmt.Fprintln(w, line)
	if r.UpgradeErr != "" {
		fmt.Fprintf(w, "last upgrade failed, this program ran on: %s\n", r.UpgradeErr)
	}
}
