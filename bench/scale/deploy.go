package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/manager"
	"github.com/hellomgr/hellomgr/proc"
)

// repoRoot is the folder of the product's go.mod, so the bench can be run
// from anywhere inside the repository (bench/ is a module of its own).
func repoRoot() (string, error) { return benchkit.ModuleRoot() }

// binaries are what the bench runs: hellomgr, the small app when the
// instances run it ("" for the built-in server), and floor, an empty Go
// program: what any Go process takes to start and exit on this machine,
// now, which `hellomgr status` cannot go below.
type binaries struct {
	hellomgr, app, floor string
}

// floorSource is the program of binaries.floor.
const floorSource = "package main\n\nfunc main() {}\n"

// build compiles hellomgr, as a user would build it, the floor program
// and for -app small the small app, static, into a temporary folder.
func build(ctx context.Context, root, app string) (bins binaries, remove func(), err error) {
	dir, err := os.MkdirTemp("", "hmbin")
	if err != nil {
		return bins, nil, err
	}
	remove = func() { os.RemoveAll(dir) }
	floorGo := filepath.Join(dir, "floor.go")
	if err := os.WriteFile(floorGo, []byte(floorSource), 0o644); err != nil {
		remove()
		return bins, nil, fmt.Errorf("write the floor program: %w", err)
	}
	bins.hellomgr, bins.floor = filepath.Join(dir, "hellomgr"), filepath.Join(dir, "floor")
	steps := [][]string{{"go", "build", "-o", bins.hellomgr, "."}, {"go", "build", "-o", bins.floor, floorGo}}
	if app == "small" {
		bins.app = filepath.Join(dir, "app")
		steps = append(steps, []string{"go", "build", "-C", "bench", "-ldflags=-s -w", "-o", bins.app, "./scale/app"})
	}
	for _, argv := range steps {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			remove()
			return bins, nil, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out)
		}
	}
	return bins, remove, nil
}

// freePorts finds n distinct free ports: all are held open together, so
// the kernel hands out n different ones, then closed for hellomgr to bind.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", ":0") // all interfaces, as hellomgr binds
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// process names one process for as long as it lives: a pid alone could be
// reused by an unrelated process once ours has gone.
type process struct {
	PID   int
	Start time.Time
}

func lookup(pid int) (process, bool) {
	st, err := proc.Read(pid)
	if err != nil {
		return process{}, false
	}
	return process{PID: pid, Start: st.StartTime}, true
}

func (p process) alive() bool {
	st, err := proc.Read(p.PID)
	return err == nil && st.StartTime.Equal(p.Start)
}

// deployment is one config folder with its manager and instances.
type deployment struct {
	bin, app    string // app: the small app, or "" for the built-in server
	floor       string // the empty Go program
	dir, file   string
	ports       []int
	cfg         *config.Config
	manager     process
	metricsAddr string
	seen        map[int]process // every instance process seen, by pid
	downed      bool
	http        *http.Client // for the manager's /metrics
}

func newDeployment(bins binaries, n int) (*deployment, error) {
	dir, err := os.MkdirTemp("", "hm") // short: the control socket lives here
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(n)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d := &deployment{bin: bins.hellomgr, app: bins.app, floor: bins.floor, dir: dir, file: filepath.Join(dir, "config.yaml"), ports: ports, seen: map[int]process{},
		http: &http.Client{Timeout: 5 * time.Second}}
	if err := d.writeConfig(1); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return d, nil
}

// writeConfig writes the app on every port, with the metrics endpoint on a
// free loopback port and the given reload.max_unavailable. The small app
// gets the built-in server's defaults spelled out: socket handoff and
// READY=1.
func (d *deployment) writeConfig(maxUnavailable int) error {
	var b bytes.Buffer
	b.WriteString("ports:\n")
	for _, p := range d.ports {
		fmt.Fprintf(&b, "  - %d\n", p)
	}
	if d.app != "" {
		fmt.Fprintf(&b, "command: [%q]\nenv:\n  GOMAXPROCS: \"1\"\nready:\n  notify: true\n", d.app)
		b.WriteString("reload:\n  handoff: socket\n")
	} else {
		b.WriteString("reload:\n")
	}
	fmt.Fprintf(&b, "  max_unavailable: %d\nmetrics:\n  address: 127.0.0.1:0\n", maxUnavailable)
	if err := os.WriteFile(d.file, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	cfg, err := config.Load(d.file)
	if err != nil {
		return fmt.Errorf("the bench's own config: %w", err)
	}
	d.cfg = cfg
	return nil
}

// hellomgr runs one hellomgr command on the deployment's config and
// returns its wall time.
func (d *deployment) hellomgr(ctx context.Context, args ...string) (time.Duration, error) {
	return timeRun(ctx, d.bin, append(args, "-c", d.file)...)
}

// timeRun runs a program to its end, its output read from a pipe as a
// script would read it, and returns its wall time. (A terminal is slower
// to write to than a pipe.)
func timeRun(ctx context.Context, bin string, args ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		return took, fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, lastLines(out.String(), 20))
	}
	return took, nil
}

// up starts the manager in the background and learns its pid, its metrics
// address and its instances. It returns the time until all were ready.
func (d *deployment) up(ctx context.Context) (time.Duration, error) {
	took, err := d.hellomgr(ctx, "up", "-d")
	// Whatever `up` said, a manager may have started: learn its pid so
	// that close can stop it.
	if pid, _ := manager.RunningPID(d.cfg.StateDir); pid != 0 {
		d.manager, _ = lookup(pid)
	}
	if err != nil {
		return took, err
	}
	if d.manager.PID == 0 {
		return took, errors.New("up -d returned but no manager pid is recorded")
	}
	return took, d.refresh(ctx)
}

// refresh reads the manager's report and records every instance process,
// so that none can outlive the bench unnoticed. Every instance must be
// ready.
func (d *deployment) refresh(ctx context.Context) error {
	r, err := control.Dial(d.cfg.Socket).Status(ctx)
	if err != nil {
		return err
	}
	if r.PID != d.manager.PID {
		return fmt.Errorf("the control socket answers for pid %d, the pid file says %d", r.PID, d.manager.PID)
	}
	d.metricsAddr = r.MetricsAddr
	if len(r.Instances) != len(d.ports) {
		return fmt.Errorf("%d instances reported, want %d", len(r.Instances), len(d.ports))
	}
	for _, in := range r.Instances {
		if p, ok := lookup(in.PID); ok {
			d.seen[in.PID] = p
		}
		if in.State != "ready" {
			return fmt.Errorf("port %d: state %s, want ready", in.Port, in.State)
		}
	}
	return nil
}

// down runs `hellomgr down`, then checks that the manager and every
// instance process ever seen are gone.
func (d *deployment) down(ctx context.Context) (time.Duration, error) {
	took, err := d.hellomgr(ctx, "down")
	if err != nil {
		return took, err
	}
	d.downed = true
	if left := d.waitGone(5 * time.Second); len(left) > 0 {
		return took, fmt.Errorf("after down, %d processes still run: %v", len(left), left)
	}
	return took, nil
}

// waitGone waits until the manager and every seen instance have exited,
// and returns the pids still alive at the deadline.
func (d *deployment) waitGone(limit time.Duration) []int {
	deadline := time.Now().Add(limit)
	for {
		var left []int
		for _, p := range d.all() {
			if p.alive() {
				left = append(left, p.PID)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *deployment) all() []process {
	out := []process{}
	if d.manager.PID != 0 {
		out = append(out, d.manager)
	}
	for _, p := range d.seen {
		out = append(out, p)
	}
	return out
}

// close stops whatever still runs, by pid: SIGTERM to the manager (it
// stops its instances gracefully), SIGKILL if it is still there after a
// while, then SIGKILL to any instance seen that outlived it (they should
// not: they run with a parent-death signal). It removes the folder, after
// copying the manager's log to stderr if the run failed.
func (d *deployment) close(failed bool) error {
	defer os.RemoveAll(d.dir)
	d.http.CloseIdleConnections()
	if failed {
		if log, err := os.ReadFile(filepath.Join(d.cfg.StateDir, "hellomgr.log")); err == nil {
			fmt.Fprintf(os.Stderr, "manager log (last lines):\n%s\n", lastLines(string(log), 30))
		}
	}
	if failed && d.manager.PID != 0 && !d.manager.alive() {
		logf("the manager (pid %d) had already exited", d.manager.PID)
	}
	if d.manager.alive() {
		syscall.Kill(d.manager.PID, syscall.SIGTERM)
		if left := d.waitGone(d.cfg.Stop.Timeout + 5*time.Second); len(left) > 0 && d.manager.alive() {
			syscall.Kill(d.manager.PID, syscall.SIGKILL)
		}
	}
	for _, p := range d.seen {
		if p.alive() {
			syscall.Kill(p.PID, syscall.SIGKILL)
		}
	}
	if left := d.waitGone(5 * time.Second); len(left) > 0 {
		return fmt.Errorf("processes still running after cleanup: %v", left)
	}
	if failed || !d.downed {
		logf("cleaned up the manager and %d instance processes", len(d.seen))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
