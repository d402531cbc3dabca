// Command reload measures what clients of nginx see while `hellomgr reload`
// replaces the 4 instances of an app, for each app and nginx setup
// ("front") of the reload matrix, under wrk load: GET and POST, with
// clients that keep their connections to nginx alive and with clients that
// open a new one per request (`Connection: close`).
//
//	go -C bench run ./reload [-app built-in,tornado-seed] [-front printed] [-method GET] [-keepalive no]
//	                      [-duration 10s] [-reloads 3] [-min-requests 20000] [-chart]
//
// The apps: the built-in server with no `command:` (its answer cannot
// change, so its reload is checked by every pid being replaced); the same
// server spelled out as `command: [hellomgr, serve, ..., --message, ...]`
// with no reload or ready keys; the seed's Tornado app as written
// (examples/tornado/seed.py); the seed with hellomgr_tornado, which
// takes the socket, says READY=1 and drains itself (examples/tornado/
// hello.py, with `handoff: socket` and `ready.notify`); and a plain
// http.server app (examples/plain/app.py). The code change is the answer
// of GET and POST /, edited in the copied source, or the --message.
//
// The fronts: "printed" is nginx running exactly what `hellomgr nginx`
// prints for the app's config, and nothing else; "nginx-drain", for the
// apps that cannot drain themselves (the seed and the plain app), adds an
// `nginx:` section, so hellomgr takes each instance out of the upstream
// file and reloads nginx around its replacement.
//
// It builds hellomgr into a temporary folder and, for each app and front,
// runs the app under `hellomgr up -d` and nginx on a free loopback port
// with deploy/nginx.conf (pointed at a temporary prefix) holding the
// printed parts; then, for each load, starts wrk, changes the code and
// runs `hellomgr reload` from 30% of -duration on (3 times, 1 s apart, by
// default: one reload of the built-in server lasts about 0.1 s, too short
// a window alone). It prints a markdown table ready for the README and
// writes the raw figures to bench/out/reload.json.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

type options struct {
	duration    time.Duration // at least, of each wrk run
	reloads     int           // in each wrk run
	minRequests int           // per wrk run, or a warning
	connections int
	threads     int
	apps        []string
	fronts      []string
	loads       []load
	chart       bool
	chartDir    string
}

func main() {
	var o options
	appList := flag.String("app", strings.Join(appNames(), ","), "apps to run, comma-separated")
	frontList := flag.String("front", "printed,nginx-drain", "fronts to run, comma-separated; an app runs behind those it has")
	methods := flag.String("method", "GET,POST", "methods to load with, comma-separated")
	keepAlive := flag.String("keepalive", "yes,no", `client keep-alive to nginx, comma-separated: "yes", "no" (Connection: close)`)
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "least length of each wrk run; the first reload starts at 30% of it, and the load goes on for 30% of it after the last reload, and until nginx has read -min-requests")
	flag.IntVar(&o.reloads, "reloads", 3, "reloads in each wrk run, 1 s apart: one reload of the built-in server lasts about 0.1 s, too short a window to measure throughput in alone")
	flag.IntVar(&o.minRequests, "min-requests", 20000, "requests each wrk run should reach; fewer is warned about and marked in the table")
	flag.IntVar(&o.connections, "connections", 32, "wrk connections to nginx")
	flag.IntVar(&o.threads, "threads", 2, "wrk threads")
	flag.BoolVar(&o.chart, "chart", false, "after each app and front's runs, draw docs/reload-<app>[-<front>].png from one more reload with nginx logging which instance served each request")
	flag.StringVar(&o.chartDir, "chart-dir", "", "where -chart draws (default docs/ in the module)")
	flag.Parse()
	err := o.parseLists(*appList, *frontList, *methods, *keepAlive)
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = run(ctx, o)
		stop()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/reload:", err)
		os.Exit(1)
	}
}

// parseLists checks the subset flags against the matrix.
func (o *options) parseLists(appList, frontList, methods, keepAlive string) error {
	o.apps, o.fronts = split(appList), split(frontList)
	for _, a := range o.apps {
		if _, ok := findApp(a); !ok {
			return fmt.Errorf("-app %s: want one of %s", a, strings.Join(appNames(), ", "))
		}
	}
	for _, f := range o.fronts {
		if !slices.ContainsFunc(fronts, func(x front) bool { return x.name == f }) {
			return fmt.Errorf("-front %s: want printed or nginx-drain", f)
		}
	}
	for _, k := range split(keepAlive) {
		if k != "yes" && k != "no" {
			return fmt.Errorf("-keepalive %s: want yes or no", k)
		}
		for _, m := range split(methods) {
			if m != "GET" && m != "POST" {
				return fmt.Errorf("-method %s: want GET or POST", m)
			}
			o.loads = append(o.loads, load{method: m, keepAlive: k == "yes"})
		}
	}
	pairs := 0
	for _, name := range o.apps {
		a, _ := findApp(name)
		for _, f := range a.fronts {
			if slices.Contains(o.fronts, f.name) {
				pairs++
			}
		}
	}
	if pairs == 0 || len(o.loads) == 0 {
		return fmt.Errorf("nothing to run: -app, -front, -method and -keepalive must each name something, and only tornado-seed and plain run behind nginx-drain")
	}
	if o.reloads < 1 {
		return fmt.Errorf("-reloads %d: want at least 1", o.reloads)
	}
	return nil
}

func split(list string) []string {
	var items []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			items = append(items, s)
		}
	}
	return items
}

func run(ctx context.Context, o options) error {
	root, err := benchkit.ModuleRoot()
	if err != nil {
		return err
	}
	if o.chartDir == "" {
		o.chartDir = filepath.Join(root, "docs")
	}
	var selected []app
	for _, name := range o.apps {
		a, _ := findApp(name)
		selected = append(selected, a)
	}
	if err := checkTools(selected); err != nil {
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
	b := &bench{opts: o, root: root, bin: bin, began: time.Now(), loadBefore: benchkit.LoadAverage()}
	results, notRun := b.runMatrix(ctx, selected)
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted; every process the bench started was stopped")
	}
	r := benchkit.NewReport(root, "reload", "Reload under load through nginx")
	r.LoadBefore = b.loadBefore
	report(r, b, results, notRun)
	path, err := r.Finish(os.Stdout, root)
	if err != nil {
		return err
	}
	fmt.Printf("\nraw figures: %s\n", path)
	if len(notRun) > 0 {
		return fmt.Errorf("%d of the app and front pairs asked for did not run (above)", len(notRun))
	}
	return verdict(results)
}

// runMatrix runs every selected app behind every selected front it has.
// A pair that cannot run (its example is not written yet, or hellomgr
// failed) is reported and the others still run: a matrix with a hole is
// worth more than none.
func (b *bench) runMatrix(ctx context.Context, selected []app) ([]result, []string) {
	var results []result
	var notRun []string
	for _, a := range selected {
		for _, f := range a.fronts {
			if !slices.Contains(b.opts.fronts, f.name) || ctx.Err() != nil {
				continue
			}
			if s := a.missing(b.root); s != "" {
				notRun = append(notRun, fmt.Sprintf("%s, %s: %s is missing", a.name, f.name, s))
				fmt.Fprintf(os.Stderr, "skip %s, %s: %s is missing\n", a.name, f.name, s)
				continue
			}
			rs, err := b.runDeployment(ctx, a, f, b.opts.loads)
			results = append(results, rs...)
			if err != nil && ctx.Err() == nil {
				notRun = append(notRun, fmt.Sprintf("%s, %s: %v", a.name, f.name, firstLine(err)))
				fmt.Fprintf(os.Stderr, "%s, %s: %v\n", a.name, f.name, err)
			}
		}
	}
	return results, notRun
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// verdict fails the program when a run could not be judged: its reload
// failed, an instance was not replaced, or the new code was not served
// afterwards. Failed requests are figures to read, not an error.
func verdict(results []result) error {
	for _, r := range results {
		for _, rr := range r.Reloads {
			if rr.Error != "" {
				return fmt.Errorf("%s, %s, %s: reload to version %d failed: %s", r.App, r.Front, r.Method, rr.Version, rr.Error)
			}
		}
		if !r.everyPIDReplaced() {
			return fmt.Errorf("%s, %s, %s: a reload left an instance's pid as it was", r.App, r.Front, r.Method)
		}
		if !r.NewCodeServed {
			return fmt.Errorf("%s, %s, %s: the new code (%q) was not served after the reloads: %v", r.App, r.Front, r.Method, r.NewCode, r.AnswersAfter)
		}
	}
	return nil
}
