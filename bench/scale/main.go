// Command scale measures how hellomgr grows with the number of built-in
// instances. For each size (4, 64 and 256 by default) it starts a manager
// with that many `hellomgr serve` instances on free loopback ports and
// measures: the time `up -d` takes to have every instance ready, the
// manager's RSS, the manager's CPU over an idle window, the latency of
// `hellomgr status`, the latency of a /probe?port=N scrape, the time of a
// reload (max_unavailable 1, then a wider one) and of `down`. It prints a
// markdown table with the growth from the smallest to the largest size and
// writes the raw figures to bench/out/scale.json.
//
// Run it from the repository root:
//
//	go run ./bench/scale
//
// Every process it starts is stopped by pid before it returns, even when a
// step fails half-way or the run is interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	sizes      []int
	idle       time.Duration // window over which the idle manager's CPU is measured
	statusRuns int           // `hellomgr status` runs per size
	scrapes    int           // /probe scrapes per size
	wide       int           // reload.max_unavailable of the second reload
	out        string        // JSON file, relative to the repository root
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
	sizes := fs.String("sizes", "4,64,256", "instance counts, comma-separated, smallest first")
	fs.DurationVar(&o.idle, "idle", 30*time.Second, "idle window for the manager's CPU")
	fs.IntVar(&o.statusRuns, "status-runs", 20, "runs of `hellomgr status` per size")
	fs.IntVar(&o.scrapes, "scrapes", 100, "/probe?port=N scrapes per size")
	fs.IntVar(&o.wide, "wide", 8, "reload.max_unavailable of the second reload (capped at the size)")
	fs.StringVar(&o.out, "out", "bench/out/scale.json", "raw figures, relative to the repository root")
	fs.DurationVar(&o.timeout, "timeout", 9*time.Minute, "give up (and clean up) after this long")
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
	if o.statusRuns < 1 || o.scrapes < 1 || o.wide < 1 {
		return o, fmt.Errorf("-status-runs, -scrapes and -wide must be at least 1")
	}
	return o, nil
}

// run builds hellomgr, measures every size in turn, prints the report and
// writes the JSON. A size that fails stops the run: its deployment is
// cleaned up first.
func run(ctx context.Context, o options) error {
	root, err := repoRoot(ctx)
	if err != nil {
		return err
	}
	bin, removeBin, err := build(ctx, root)
	if err != nil {
		return err
	}
	defer removeBin()
	var results []result
	for _, n := range o.sizes {
		logf("%d instances", n)
		r, err := measureSize(ctx, bin, n, o)
		if err != nil {
			return fmt.Errorf("%d instances: %w", n, err)
		}
		results = append(results, r)
	}
	printReport(os.Stdout, results, o)
	path := filepath.Join(root, o.out)
	if err := writeJSON(path, results, o); err != nil {
		return err
	}
	fmt.Printf("\nRaw figures: %s\n", o.out)
	return nil
}

// logf reports progress on stderr, so that stdout holds only the report.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
