// Command logcost measures what logging costs under hellomgr, like with
// like: the seed's Tornado app (examples/tornado/hello.py) on 4 ports
// behind nginx, each logging every request (Tornado's access log), once
// started by hand, each process in a session of its own (as `setsid`, or
// a terminal of its own, gives) appending its output to a file itself, and
// once under hellomgr, whose logs move each pipe into its file with
// splice(2). Both run side by side, each with its own nginx; wrk (GET,
// keep-alive) loads one side at a time, the order alternating from round
// to round, and the load average is printed with every round.
//
//	go -C bench run ./logcost [-rounds 3] [-load 8s] [-marks 20]
//
// It reports, per round and in all: requests served and failed, lines
// logged per second, hellomgr's manager CPU (in percent of a core, from
// /proc/PID/stat) and its voluntary context switches per 10,000 lines;
// then how long `hellomgr logs PORT -f` takes to show a line, quiet and
// under load. Every figure is printed against its target, NOT met when
// missed; the report goes to bench/out/logcost.json for bench/figures.
//
// Every process it starts is stopped by pid at the end, or on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

type options struct {
	rounds      int
	load        time.Duration
	connections int
	marks       int // marked requests timed through logs -f, quiet and under load
}

func main() {
	var o options
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each loads both sides once, the first alternating")
	flag.DurationVar(&o.load, "load", 8*time.Second, "length of each wrk run")
	flag.IntVar(&o.connections, "connections", 32, "wrk connections (2 threads)")
	flag.IntVar(&o.marks, "marks", 20, "marked requests whose line logs -f must show, quiet and under load")
	flag.Parse()
	if flag.NArg() > 0 || o.rounds < 1 || o.load < time.Second || o.marks < 1 {
		fmt.Fprintln(os.Stderr, "usage: go -C bench run ./logcost [flags]; -rounds and -marks at least 1, -load at least 1s")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/logcost:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	root, err := benchkit.ModuleRoot()
	if err != nil {
		return err
	}
	if err := benchkit.Install(ctx, os.Stderr, benchkit.Nginx, benchkit.Wrk, benchkit.Tornado); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "hmlc")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, err := benchkit.Build(ctx, root, work)
	if err != nil {
		return err
	}
	r := benchkit.NewReport(root, "logcost", "What logging costs: by hand against hellomgr")
	var sides [2]*side
	defer func() {
		for _, s := range sides {
			if s != nil {
				s.close()
			}
		}
	}()
	for i, name := range []string{"by hand", "hellomgr"} {
		b := ""
		if name == "hellomgr" {
			b = bin
		}
		if sides[i], err = newSide(root, name, b); err == nil {
			err = sides[i].start(ctx)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	runs, err := rounds(ctx, o, sides)
	if err != nil {
		return interrupted(ctx, err)
	}
	quiet, loaded, err := followLatency(ctx, o, sides[1])
	if err != nil {
		return interrupted(ctx, err)
	}
	report(r, o, runs, quiet, loaded)
	path, err := r.Finish(os.Stdout, root)
	fmt.Println("raw figures:", path)
	if err == nil && r.Failed() > 0 {
		err = fmt.Errorf("%d targets NOT met", r.Failed())
	}
	return err
}

func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.New("interrupted; every process the bench started is being stopped")
	}
	return err
}
