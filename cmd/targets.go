package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/manager"
)

func newTargets() *cobra.Command {
	var cf configFlag
	c := &cobra.Command{
		Use:   "targets",
		Short: "Print the Prometheus file_sd targets: the manager, each app, each app's probe",
		Long: `targets prints, as Prometheus file_sd JSON, what hellomgr up and reload keep in
prometheus-targets.json beside the config: one group for the manager's own
/metrics, and one per port, which deploy/prometheus.yml scrapes twice (the
app's /metrics, and the manager's /probe?port=N). Each port's target is on
the config's address (the manager's host when the instances listen on
every interface).

With a manager running it prints the ports the manager runs and the address
its metrics server really listens on. Without one it prints the config's
ports and metrics.address; when that address is "off", or has port 0 (a port
picked at start), only the apps' groups can be printed, and a note on stderr
says so.

A running manager serves the same groups over HTTP at GET /targets on its
metrics address, in the format of Prometheus' http_sd_configs, each group
labelled with host: with metrics.address on an address Prometheus reaches,
one http_sd_configs URL per machine finds every instance of a fleet
(deploy/prometheus.yml).`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			return runTargets(c.Context(), cf, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	cf.register(c)
	return c
}

func runTargets(ctx context.Context, cf configFlag, stdout, stderr io.Writer) error {
	addr, ports, err := targetsSource(ctx, cf, stderr)
	if err != nil {
		return err
	}
	data, err := manager.Targets(addr, instanceAddress(cf), ports)
	if err != nil {
		return err
	}
	_, err = stdout.Write(data)
	return err
}

// targetsSource returns the metrics address and the ports to print: the
// running manager's, or else the config's. The manager is asked first, so
// that a config being edited does not stop the command while one runs.
func targetsSource(ctx context.Context, cf configFlag, stderr io.Writer) (string, []int, error) {
	client, err := cf.client()
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	report, err := client.Status(ctx)
	switch {
	case err == nil:
		var ports []int
		for _, in := range report.Instances {
			ports = append(ports, in.Port)
		}
		if report.MetricsAddr == "" {
			fmt.Fprintln(stderr, "hellomgr: note: the manager serves no metrics (metrics.address: off); only the apps are listed")
		}
		return report.MetricsAddr, ports, nil
	case !errors.Is(err, control.ErrNotRunning):
		return "", nil, err
	}
	cfg, err := cf.load()
	if err != nil {
		return "", nil, err
	}
	return configuredAddr(cfg, stderr), cfg.Ports, nil
}

// configuredAddr is metrics.address when Prometheus could dial it as it is,
// else "" after a note on stderr.
func configuredAddr(cfg *config.Config, stderr io.Writer) string {
	addr := cfg.Metrics.Address
	if addr == "off" {
		fmt.Fprintln(stderr, "hellomgr: note: metrics.address is off; only the apps are listed")
		return ""
	}
	if _, port, err := net.SplitHostPort(addr); err == nil && port == "0" {
		fmt.Fprintf(stderr, "hellomgr: note: no manager is running and metrics.address is %s, a port picked at start: the manager's address is not known, so only the apps are listed. `hellomgr up` writes the full list to %s\n",
			addr, manager.TargetsFile(cfg))
		return ""
	}
	return addr
}

// instanceAddress is the config's address, the host of each port's target;
// "" (the manager's host) when the file does not parse: a config being
// edited does not stop the command while a manager runs.
func instanceAddress(cf configFlag) string {
	cfg, err := cf.load()
	if err != nil {
		return ""
	}
	return cfg.Address
}
