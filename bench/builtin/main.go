// Command builtin measures the built-in server (`hellomgr serve`, package
// hello) against the plainest net/http hello server, a HandleFunc writing
// "Hello Itcast!" on a bare http.Server (plain.go), and what its metrics
// cost, under the same load:
//
//   - built-in: `hellomgr serve --port P` (metrics on, as every instance runs);
//   - no metrics: the same with --no-metrics;
//   - plain: this program re-executed as the plain server on another port;
//
// all pinned to CPU 0, each in a session of its own (so each is its own
// autogroup for the scheduler, as a service under systemd would be a cgroup
// of its own), and wrk -t1 -c32 pinned to CPU 1, in a session of its own
// too. Each round runs each server one after the other, the one that goes
// first changing, each after an unmeasured warm-up; the report gives the
// median requests/s of each, the ratios built-in / plain and metrics on /
// off (targets: at least 0.95), and the servers' CPU time per request,
// which other load on the machine moves less than throughput. What a
// /probe?port=N scrape costs the manager is bench/scale's.
//
// With -profile DIR it instead runs each server inside this program (the
// built-in one through hello.Run with the options `hellomgr serve` gives
// it) under one wrk run, writing DIR/builtin.pprof and DIR/plain.pprof for
// `go tool pprof -top`.
//
// It builds hellomgr from this module (or takes -bin), uses free loopback
// ports, and stops every process it starts by pid, on error and on Ctrl-C
// too. Run it from the repository root:
//
//	go -C bench run ./builtin
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

type options struct {
	bin         string // hellomgr binary; built from the module if empty
	rounds      int
	duration    time.Duration
	warmup      time.Duration
	connections int
	pin         bool
	profile     string // folder for CPU profiles; empty: the A/B
	timeout     time.Duration
}

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		if err := serveRole(role); err != nil {
			fmt.Fprintln(os.Stderr, "bench/builtin:", role+":", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.bin, "bin", "", "hellomgr binary to measure (default: build this module)")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds; each runs A and B once, alternating which goes first")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured wrk run")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured wrk run before each measured one")
	flag.IntVar(&o.connections, "connections", 32, "wrk connections (one wrk thread)")
	flag.BoolVar(&o.pin, "pin", true, "servers on CPU 0, wrk on CPU 1 (needs 2 CPUs)")
	flag.StringVar(&o.profile, "profile", "", "write CPU profiles of both servers into this folder instead of the A/B")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "limit for the whole run")
	flag.Parse()
	if flag.NArg() > 0 || o.rounds < 1 || o.connections < 1 || o.duration < time.Second {
		fmt.Fprintln(os.Stderr, "usage: go -C bench run ./builtin [flags]; -rounds and -connections at least 1, -duration at least 1s")
		os.Exit(2)
	}
	if o.pin && runtime.NumCPU() < 2 {
		fmt.Fprintln(os.Stderr, "bench/builtin: fewer than 2 CPUs, not pinning")
		o.pin = false
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/builtin:", err)
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
	dir, err := os.MkdirTemp("", "hmbb")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.profile != "" {
		return profile(ctx, dir, o)
	}
	if o.bin == "" {
		if o.bin, err = benchkit.Build(ctx, root, dir); err != nil {
			return err
		}
	}
	r := benchkit.NewReport(root, "builtin", "The built-in server against plain net/http")
	runs, err := abRounds(ctx, dir, o)
	if err != nil {
		return err
	}
	report(r, runs, o)
	path, err := r.Finish(os.Stdout, root)
	fmt.Println("raw figures:", path)
	return err
}
