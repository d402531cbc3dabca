// Command peers runs the same job under hellomgr and under the tools a
// user would otherwise choose, and measures them side by side: the seed's
// Tornado app (examples/tornado) on 4 ports behind nginx, started by hand
// (the baseline), by supervisord (what Tornado's deployment guide
// suggests), by PM2, and by hellomgr.
//
//	go -C bench run ./peers [-idle 10s] [-clients both] [-managers by-hand,supervisord,pm2,hellomgr]
//
// It installs what it needs and is missing (Debian's nginx, wrk,
// python3-tornado and supervisor with apt-get; pm2 from the npm registry
// into bench/out/pm2-VERSION), builds hellomgr, and gives each manager a
// folder of its own, 4 free loopback ports and an nginx of its own with
// deploy/nginx.conf. Every manager runs with its own state (supervisord's
// config, socket and pid file; PM2_HOME and so its own daemon; hellomgr's
// config): nothing system-wide is used or touched.
//
// For each manager it measures the time from the start command to all 4
// ports answering; the manager's own memory and CPU while idle; and code
// updates under wrk load, done as the tool's users do
// them (supervisorctl restart all, and one program at a time; pm2
// restart all and pm2 reload all; hellomgr reload), for GET and POST,
// with keep-alive clients and with `Connection: close` clients. It prints
// one markdown table and writes the raw figures to bench/out/peers.json.
// What logging costs, by hand against hellomgr, is bench/logcost's.
//
// Every process it starts is stopped by PID at the end, or on Ctrl-C.
package main

import (
	"bytes"
	"context"
	"errors"
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
	idle        time.Duration // idle window
	before      time.Duration // load before an update
	after       time.Duration // load after it
	connections int
	threads     int
	clients     []bool // client keep-alive, in the order run
	managers    []string
	maxFails    int // on the upstream's server lines; negative: nginx's default
	pm2Version  string
	pm2Dir      string
}

var allManagers = []string{"by-hand", "supervisord", "pm2", "hellomgr"}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/peers:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/peers:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	fs.DurationVar(&o.idle, "idle", 10*time.Second, "window over which each manager's idle CPU and memory are sampled (all at once)")
	fs.DurationVar(&o.before, "before", 2*time.Second, "load through nginx before each code update")
	fs.DurationVar(&o.after, "after", 2*time.Second, "load through nginx after every port answers the new code")
	fs.IntVar(&o.connections, "connections", 32, "wrk connections to nginx")
	fs.IntVar(&o.threads, "threads", 2, "wrk threads")
	clients := fs.String("clients", "both", `client mode of the update runs: "keepalive", "close" (Connection: close) or "both"`)
	managers := fs.String("managers", strings.Join(allManagers, ","), "managers to run, comma-separated; by-hand is the throughput baseline")
	fs.IntVar(&o.maxFails, "max-fails", -1, "set max_fails=N on the server lines of the upstream the bench writes for by hand, supervisord and PM2 (default: none, nginx's max_fails=1 fail_timeout=10s); hellomgr writes its own")
	fs.StringVar(&o.pm2Version, "pm2", "7.0.4", "PM2 version to install from the npm registry")
	fs.StringVar(&o.pm2Dir, "pm2-dir", "", "where PM2 is installed and kept between runs (default bench/out/pm2-VERSION)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch *clients {
	case "both":
		o.clients = []bool{true, false}
	case "keepalive":
		o.clients = []bool{true}
	case "close":
		o.clients = []bool{false}
	default:
		return o, fmt.Errorf("-clients %q: want keepalive, close or both", *clients)
	}
	for _, m := range strings.Split(*managers, ",") {
		if !slices.Contains(allManagers, m) {
			return o, fmt.Errorf("-managers: unknown %q; want some of %s", m, strings.Join(allManagers, ","))
		}
		o.managers = append(o.managers, m)
	}
	if o.idle <= 0 {
		return o, errors.New("-idle must be positive")
	}
	return o, nil
}

func (o options) json() map[string]any {
	return map[string]any{"idle_s": o.idle.Seconds(),
		"before_s": o.before.Seconds(), "after_s": o.after.Seconds(), "connections": o.connections,
		"threads": o.threads, "clients_keepalive": o.clients, "managers": o.managers, "pm2": o.pm2Version, "max_fails": o.maxFails}
}

type bench struct {
	o          options
	root       string
	bin        string // hellomgr, built from the module
	pm2        string // the pm2 command
	loadBefore string
	entries    []*entry
}

func run(ctx context.Context, o options) (err error) {
	began := time.Now()
	b := &bench{o: o, loadBefore: benchkit.LoadAverage()}
	if b.root, err = benchkit.ModuleRoot(); err != nil {
		return err
	}
	if b.o.pm2Dir == "" {
		b.o.pm2Dir = filepath.Join(b.root, "bench", "out", "pm2-"+o.pm2Version)
	}
	if err := b.install(ctx); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "hmp")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if b.bin, err = benchkit.Build(ctx, b.root, work); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.close()) }()
	if err := b.measure(ctx); err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted; every process the bench started is being stopped")
		}
		return err
	}
	elapsed := time.Since(began)
	// The table and notes go in the report as they are.
	var text bytes.Buffer
	printTable(&text, b)
	printNotes(&text, b, elapsed)
	rep := benchkit.NewReport(b.root, "peers", "Against supervisord and PM2")
	rep.LoadBefore = b.loadBefore
	rep.Notes = append(rep.Notes, strings.TrimSpace(text.String()))
	rep.Raw = rawFigures(b, elapsed)
	path, err := rep.Finish(os.Stdout, b.root)
	if err != nil {
		return err
	}
	fmt.Printf("\nraw figures: %s\n", path)
	return b.verdict()
}

// install brings what the chosen managers need and is missing.
func (b *bench) install(ctx context.Context) error {
	tools := []benchkit.Tool{benchkit.Nginx, benchkit.Wrk, benchkit.Tornado}
	if slices.Contains(b.o.managers, "supervisord") {
		tools = append(tools, supervisord)
	}
	if slices.Contains(b.o.managers, "pm2") {
		tools = append(tools, node, npm)
	}
	if err := benchkit.Install(ctx, os.Stderr, tools...); err != nil {
		return err
	}
	if !slices.Contains(b.o.managers, "pm2") {
		return nil
	}
	var err error
	b.pm2, err = installPM2(ctx, b.o.pm2Dir, b.o.pm2Version)
	return err
}

// measure starts every manager, then measures them idle and through
// code updates.
func (b *bench) measure(ctx context.Context) error {
	for _, name := range b.o.managers {
		e, err := b.deploy(name)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := b.timeStart(ctx, e); err != nil {
			return fmt.Errorf("%s: %w", e.res.Manager, err)
		}
	}
	if err := b.measureIdle(ctx); err != nil {
		return err
	}
	for _, e := range b.entries {
		if err := b.measureUpdates(ctx, e); err != nil {
			return fmt.Errorf("%s: %w", e.res.Manager, err)
		}
	}
	return nil
}

// deploy lays out a deployment for the named manager; the entry is kept
// at once, so that close stops whatever it started.
func (b *bench) deploy(name string) (*entry, error) {
	d, err := newDeployment(b.root, b.o.maxFails)
	if err != nil {
		return nil, err
	}
	e := &entry{d: d}
	switch name {
	case "by-hand":
		e.m = &byHand{d: d}
		e.res = &managerResult{Manager: "by hand", StartCommand: "4 × exec /usr/bin/python3 hello.py --port=N"}
	case "supervisord":
		e.m = &supervisorManager{d: d}
		e.res = &managerResult{Manager: "supervisord", Version: firstLine(supervisord.Path, "--version"),
			StartCommand: "supervisord -n -c supervisord.conf"}
	case "pm2":
		e.m = &pm2Manager{d: d, bin: b.pm2}
		e.res = &managerResult{Manager: "PM2", Version: b.o.pm2Version, StartCommand: "pm2 start ecosystem.config.js (starts the daemon too)"}
	case "hellomgr":
		e.m = &hellomgrManager{d: d, bin: b.bin}
		e.res = &managerResult{Manager: "hellomgr", Version: firstLine(b.bin, "version"), StartCommand: "hellomgr up -d"}
	}
	e.res.Updates = []updateResult{}
	b.entries = append(b.entries, e)
	return e, nil
}

// close stops every manager and its instances, then each nginx, and
// reports what had to be stopped by force.
func (b *bench) close() error {
	var errs []error
	for _, e := range b.entries {
		if err := e.m.stop(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.res.Manager, err))
		}
		e.d.close()
	}
	return errors.Join(errs...)
}

// verdict fails the program when an update could not be judged: its
// command failed, or the new code was not served afterwards. Failed
// requests are figures to read, not an error.
func (b *bench) verdict() error {
	var errs []error
	for _, e := range b.entries {
		for _, u := range e.res.Updates {
			if u.Error != "" {
				errs = append(errs, fmt.Errorf("%s, %s %s: %s", e.res.Manager, u.Update, u.Method, u.Error))
			}
		}
	}
	return errors.Join(errs...)
}
