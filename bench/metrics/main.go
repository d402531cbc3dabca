// Command metrics measures what hellomgr's metrics cost, for the two
// targets of the metrics issue:
//
//  1. Throughput of the built-in server with its instrumentation (`hellomgr
//     serve`, which counts and times every request and serves /metrics)
//     against the same server without it (`hellomgr serve --no-metrics`):
//     one wrk run on GET / for each, one after the other, side by side,
//     with the CPU time the server used per request. Target: the
//     instrumented server keeps at least 95% of the throughput.
//  2. Latency of a scrape of the manager's /probe?port=N with 64 built-in
//     instances running: N scrapes one after the other, round the ports,
//     on one keep-alive connection, as Prometheus makes them. Target: under
//     5 ms.
//
// It builds hellomgr from this module into a temporary folder, starts its
// own servers and manager on free loopback ports, and stops each of them by
// pid before it returns, on error and on Ctrl-C too. wrk comes from
// Debian's package of that name. Run it from the repository root:
//
//	go -C bench run ./metrics
//
// On a machine with two CPUs or more, the server runs on CPU 0 and wrk on
// CPU 1 (taskset), so that the two do not take CPU from each other;
// -pin=false lets both float.
//
// A 5% difference is within the noise of one run's throughput on a machine
// that runs anything else: so the bench also reports the CPU time the server
// used per request, which is what bounds its throughput at full load and
// which other load hardly moves. -rounds N repeats the pair, alternating
// which goes first, and reports medians.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

type options struct {
	duration    time.Duration // of each measured wrk run
	warmup      time.Duration // unmeasured wrk run before each
	connections int
	threads     int
	pin         bool
	rounds      int // wrk runs per server, alternating
	instances   int // for the scrape latency
	scrapes     int
	timeout     time.Duration // the whole run
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured wrk run")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured wrk run before each measured one")
	flag.IntVar(&o.connections, "connections", 64, "wrk connections")
	flag.IntVar(&o.threads, "threads", 1, "wrk threads")
	flag.BoolVar(&o.pin, "pin", true, "run the server on CPU 0 and wrk on CPU 1 (needs 2 CPUs)")
	flag.IntVar(&o.rounds, "rounds", 1, "wrk runs per server, metrics on and off alternating")
	flag.IntVar(&o.instances, "instances", 64, "built-in instances under the manager for the scrape latency")
	flag.IntVar(&o.scrapes, "scrapes", 2000, "scrapes of /probe?port=N to time")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "limit for the whole run")
	flag.Parse()
	if flag.NArg() > 0 || o.rounds < 1 || o.scrapes < 1 || o.instances < 1 || o.connections < 1 || o.threads < 1 {
		fmt.Fprintln(os.Stderr, "usage: go -C bench run ./metrics [flags]; -rounds, -scrapes, -instances, -connections and -threads are at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/metrics:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if err := benchkit.Check(benchkit.Wrk); err != nil {
		return err
	}
	root, err := benchkit.ModuleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "hmbm")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := benchkit.Build(ctx, root, dir)
	if err != nil {
		return err
	}
	if o.pin && numCPU() < 2 {
		fmt.Fprintln(os.Stderr, "bench/metrics: fewer than 2 CPUs, not pinning")
		o.pin = false
	}
	r := benchkit.NewReport(root, "metrics", "Per-instance metrics")
	runs, err := throughput(ctx, bin, o)
	if err != nil {
		return err
	}
	reportThroughput(r, runs, o)
	lat, err := scrapeLatency(ctx, bin, dir, o)
	if err != nil {
		return err
	}
	reportScrapes(r, lat, o)
	path, err := r.Finish(os.Stdout, root)
	fmt.Println("raw figures:", path)
	return err
}
