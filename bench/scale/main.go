// Command scale measures how hellomgr grows with the number of instances.
// For each size (4, 64, 256 and 1,024 by default) it starts a manager with
// that many instances on free loopback ports and measures: the time `up -d`
// takes to have every instance ready, the manager's RSS, the manager's CPU
// over an idle window, the latency of `hellomgr status` and the manager's
// CPU per status (run back to back, and now and then: with the manager's
// /proc readings expired), what of it is start-up (`hellomgr version`, and
// an empty Go program), the manager's CPU to probe every instance once
// (/probe?port=N) and per /metrics scrape, the time of a reload
// (max_unavailable 1, then a wider one) and of `down`. It prints markdown
// tables, says how each figure grows (flat, linear or worse) and checks it
// against its target, and writes the raw figures to bench/out/scale.json.
//
// The instances run a small app by default (-app small, bench/scale/app):
// the built-in server's protocol with the manager (the port's socket on
// fd 3, READY=1 on NOTIFY_SOCKET, exit on SIGTERM), so that the manager
// does for each exactly what it does for a built-in instance, in about
// 2 MiB where `hellomgr serve` takes 12 MiB, which 1,024 times over is
// more than a shared 2-core machine should give a bench. It is a static Go
// binary the bench builds, run with GOMAXPROCS=1 (one core is all a
// single-process server per port uses). -app builtin runs `hellomgr serve`
// instead.
//
// Placement: the manager runs in a session of its own (`up -d` detaches),
// so Linux's autogroups give it and its instances one share of the CPU;
// the bench and the `hellomgr status` processes it runs are in the
// bench's session.
//
// Run it from the repository root:
//
//	go -C bench run ./scale
//
// Every process it starts is stopped by pid before it returns, even when a
// step fails half-way or the run is interrupted.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

type options struct {
	app        string // "small" or "builtin"
	sizes      []int
	idle       time.Duration // window over which the idle manager's CPU is measured
	statusRuns int           // `hellomgr status` runs per size
	coldRuns   int           // `hellomgr status` runs per size with the manager's /proc readings expired
	scrapes    int           // /probe scrapes per size
	wide       int           // reload.max_unavailable of the second reload
	timeout    time.Duration // the whole run
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/scale:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/scale:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	sizes := fs.String("sizes", "4,64,256,1024", "instance counts, comma-separated, smallest first")
	fs.StringVar(&o.app, "app", "small", "what the instances run: small (bench/scale/app) or builtin (hellomgr serve)")
	fs.DurationVar(&o.idle, "idle", 30*time.Second, "idle window for the manager's CPU")
	fs.IntVar(&o.statusRuns, "status-runs", 20, "runs of `hellomgr status` per size")
	fs.IntVar(&o.coldRuns, "cold-runs", 9, "runs of `hellomgr status` per size, each after the manager's /proc readings expired (1.1 s apart)")
	fs.IntVar(&o.scrapes, "scrapes", 100, "/probe?port=N scrapes per size")
	fs.IntVar(&o.wide, "wide", 8, "reload.max_unavailable of the second reload (capped at the size)")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "give up (and clean up) after this long")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return o, fmt.Errorf("-sizes: %q is not a positive count", s)
		}
		o.sizes = append(o.sizes, n)
	}
	if o.app != "small" && o.app != "builtin" {
		return o, fmt.Errorf("-app: %q is neither small nor builtin", o.app)
	}
	if o.statusRuns < 1 || o.coldRuns < 1 || o.scrapes < 1 || o.wide < 1 {
		return o, fmt.Errorf("-status-runs, -cold-runs, -scrapes and -wide must be at least 1")
	}
	return o, nil
}

// run builds hellomgr, measures every size in turn, prints the report and
// writes the JSON. A size that fails stops the run: its deployment is
// cleaned up first.
func run(ctx context.Context, o options) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	bins, removeBins, err := build(ctx, root, o.app)
	if err != nil {
		return err
	}
	defer removeBins()
	var results []result
	for _, n := range o.sizes {
		logf("%d instances", n)
		r, err := measureSize(ctx, bins, n, o)
		if err != nil {
			return fmt.Errorf("%d instances: %w", n, err)
		}
		results = append(results, r)
	}
	// The sections printReport writes go in the report as they are.
	var b bytes.Buffer
	printReport(&b, results, o)
	rep := benchkit.NewReport(root, "scale", "Scale")
	rep.Notes = append(rep.Notes, strings.TrimSpace(b.String()))
	rep.Raw = map[string]any{"idle_window": o.idle.String(), "wide_max_unavailable": o.wide, "results": results}
	path, err := rep.Finish(os.Stdout, root)
	fmt.Println("\nraw figures:", path)
	return err
}

// logf reports progress on stderr, so that stdout holds only the report.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
