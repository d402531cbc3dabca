// Command reload measures what clients of nginx see while `hellomgr reload`
// updates the code of 4 instances, for the built-in server and for the
// seed's Tornado app, under wrk load, for GET and for POST, with clients
// that keep their connections to nginx alive and with clients that open a
// new one per request (`Connection: close`).
//
//	go run ./bench/reload [-duration 35s] [-reloads 3] [-connections 32] [-app tornado]
//
// It builds hellomgr into a temporary folder, starts nginx on a free
// loopback port with deploy/nginx.conf (pointed at a temporary prefix), runs
// each app under `hellomgr up -d`, and for each run starts wrk, changes the
// code and runs `hellomgr reload` in the middle of it (3 times, 1 s apart,
// by default: one reload of the built-in server lasts about 0.1 s, too
// short a window to tell a dip from the machine's noise). It prints a
// markdown table and writes the raw figures to bench/out/reload.json.
//
// The built-in server sits behind the upstream `hellomgr nginx` prints,
// which keeps nginx's default max_fails=1 fail_timeout=10s, and relies on
// socket handoff alone: nginx is never reloaded. The Tornado app uses the
// nginx drain: an `nginx:` section, so hellomgr marks each instance down in
// the upstream file and reloads nginx (twice per instance).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

type options struct {
	duration    time.Duration // of each wrk run
	reloads     int           // in each wrk run
	connections int
	threads     int
	out         string
	apps        []string
	chart       bool
}

func main() {
	var o options
	only := flag.String("app", "", `run only this app: "built-in" or "tornado"`)
	flag.DurationVar(&o.duration, "duration", 35*time.Second, "length of each wrk run; the first reload starts at 30% of it")
	flag.IntVar(&o.reloads, "reloads", 3, "reloads in each wrk run, 1 s apart: one reload of the built-in server lasts about 0.1 s, too short a window to measure throughput in alone")
	flag.IntVar(&o.connections, "connections", 32, "wrk connections to nginx")
	flag.IntVar(&o.threads, "threads", 2, "wrk threads")
	flag.StringVar(&o.out, "out", "", "JSON output (default bench/out/reload.json in the module)")
	flag.BoolVar(&o.chart, "chart", true, "after the measured runs, draw docs/reload-<app>.png from one more reload with nginx logging which instance served each request")
	flag.Parse()
	o.apps = []string{"built-in", "tornado"}
	if *only != "" {
		o.apps = []string{*only}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/reload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.reloads < 1 {
		return fmt.Errorf("-reloads %d: want at least 1", o.reloads)
	}
	root, err := benchkit.ModuleRoot()
	if err != nil {
		return err
	}
	if o.out == "" {
		o.out = filepath.Join(root, "bench", "out", "reload.json")
	}
	if err := checkTools(o.apps); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "hmb")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, err := benchkit.Build(ctx, root, work)
	if err != nil {
		return err
	}
	b := &bench{opts: o, root: root, bin: bin, loadBefore: benchkit.LoadAverage()}
	var results []result
	for _, name := range o.apps {
		a, ok := apps[name]
		if !ok {
			return fmt.Errorf("unknown app %q: want built-in or tornado", name)
		}
		rs, err := b.runApp(ctx, a)
		results = append(results, rs...)
		if err != nil {
			if len(results) > 0 {
				printTable(os.Stdout, results)
			}
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted; every process the bench started was stopped")
			}
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	printTable(os.Stdout, results)
	if err := writeJSON(o.out, b, results); err != nil {
		return err
	}
	fmt.Printf("\nraw figures: %s\n", o.out)
	return verdict(results)
}

// verdict fails the program when a run could not be judged: its reload
// failed, or the new code was not served afterwards. Failed requests are
// figures to read, not an error.
func verdict(results []result) error {
	for _, r := range results {
		for _, rr := range r.Reloads {
			if rr.Error != "" {
				return fmt.Errorf("%s %s: reload to %q failed: %s", r.App, r.Method, rr.Version, rr.Error)
			}
		}
		if !r.NewCodeServed {
			return fmt.Errorf("%s %s: the new code was not served after the reload", r.App, r.Method)
		}
	}
	return nil
}
