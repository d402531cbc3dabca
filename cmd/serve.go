package cmd

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/hello"
)

func newServe() *cobra.Command {
	o := hello.Options{Metrics: true}
	var noMetrics bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the built-in hello server on one port (what each instance runs by default)",
		Long: `serve is the seed's Tornado hello app in Go: GET and HEAD on / answer
"Hello Itcast!" (or --message), other methods 405, other paths 404, and
/metrics serves this instance's Prometheus metrics. It uses the socket passed
by hellomgr (LISTEN_FDS=1) when there is one, else listens on --port. On
SIGTERM it stops accepting, lets keep-alive connections carry a last request,
finishes in-flight requests and exits 0.`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			o.Metrics = !noMetrics
			o.Log = c.ErrOrStderr()
			o.Version = version()
			return runServe(c.Context(), o)
		},
	}
	port, _ := strconv.Atoi(os.Getenv("PORT"))
	c.Flags().IntVarP(&o.Port, "port", "p", port, "port to listen on (default $PORT)")
	c.Flags().StringVar(&o.Message, "message", hello.DefaultMessage, "body of GET /")
	c.Flags().IntVar(&o.FailPercent, "fail-percent", 0, "answer 500 to this share of GET / requests: a bad deploy to rehearse reload --canary on")
	c.Flags().BoolVar(&noMetrics, "no-metrics", false, "no /metrics and no instrumentation (for benchmarks)")
	c.Flags().DurationVar(&o.DrainGrace, "drain-grace", hello.DefaultDrainGrace, "on SIGTERM, how long idle keep-alive connections may carry a last request")
	c.Flags().DurationVar(&o.StopTimeout, "stop-timeout", hello.DefaultStopTimeout, "on SIGTERM, how long in-flight requests may take")
	return c
}

// runServe runs the built-in server until SIGTERM or SIGINT.
func runServe(ctx context.Context, o hello.Options) error {
	if o.FailPercent < 0 || o.FailPercent > 100 {
		return usageError{fmt.Errorf("serve: --fail-percent %d: want 0 to 100", o.FailPercent)}
	}
	if o.Port == 0 && os.Getenv("LISTEN_FDS") == "" {
		return usageError{fmt.Errorf("serve: --port is required (or PORT in the environment)")}
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return hello.Run(ctx, o)
}
