package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// run is one chaos run: its managers, what it injected and what it saw.
type run struct {
	ctx     context.Context
	o       options
	rng     *rand.Rand
	root    string
	dir     string
	token   string
	ms      []*manager
	tmpfs   *tmpfs
	began   time.Time
	windows []window

	deaths        []death
	deathWindows  []window // from the fault after which a manager was found dead to its restart
	violations    []string
	violationSeen map[string]int
	panics        []string
	panicsSeen    map[string]bool
	statusMax     time.Duration
	gaveUp        int               // ports found failed (restart.max_tries), then restarted
	dropped       uint64            // lines the Tornado manager counted as dropped in disk-full windows
	sessions      map[int]time.Time // instance pids that led a session, and when they started
	cgroups       map[string]bool
}

func (r *run) logf(format string, args ...any) {
	fmt.Printf("[%7.1fs] %s\n", time.Since(r.began).Seconds(), fmt.Sprintf(format, args...))
}

func (r *run) byName(name string) *manager {
	for _, m := range r.ms {
		if m.name == name {
			return m
		}
	}
	return nil
}

// chaos sets the deployment up, injects faults for o.duration under load,
// takes it down and reports. Whatever happens (an error, Ctrl-C, a
// panic), every process tied to the run is ended by pid and the tmpfs is
// unmounted.
func chaos(ctx context.Context, o options) (res *result, err error) {
	if err := benchkit.Check(benchkit.Nginx, benchkit.Tornado); err != nil {
		return nil, err
	}
	r := &run{ctx: ctx, o: o, rng: rand.New(rand.NewPCG(o.seed, 0x636861)), began: time.Now(),
		token:      strconv.FormatUint(o.seed, 36) + "-" + strconv.Itoa(os.Getpid()),
		panicsSeen: map[string]bool{}, violationSeen: map[string]int{}, sessions: map[int]time.Time{}, cgroups: map[string]bool{}}
	fmt.Printf("chaos: seed %d (replay: go -C bench run ./chaos -seed %d -duration %s)\n", o.seed, o.seed, o.duration)
	if r.root, err = benchkit.ModuleRoot(); err != nil {
		return nil, err
	}
	if r.dir, err = os.MkdirTemp("", "hmchaos"); err != nil {
		return nil, err
	}
	defer os.RemoveAll(r.dir)
	defer r.cleanup()
	defer func() {
		if p := recover(); p != nil {
			r.cleanup()
			panic(p)
		}
	}()
	if err := r.setup(); err != nil {
		return nil, err
	}
	sent, failures := r.inject()
	return r.finish(sent, failures)
}

// setup builds hellomgr (unless -bin), mounts the tmpfs, and starts both
// managers and their nginx.
func (r *run) setup() error {
	bin := r.o.bin
	if bin == "" {
		var err error
		if bin, err = benchkit.Build(r.ctx, r.root, r.dir); err != nil {
			return err
		}
	}
	t, err := mountTmpfs(filepath.Join(r.dir, "logfs"), 48)
	if err != nil {
		fmt.Println("chaos: no disk-full fault:", err)
	}
	r.tmpfs = t
	env := append(os.Environ(), tokenVar+"="+r.token)
	for _, spec := range []struct {
		name string
		n    int
	}{{"built-in", r.o.builtin}, {"tornado", r.o.tornado}} {
		ports, err := benchkit.FreePorts(spec.n)
		if err != nil {
			return err
		}
		m := &manager{name: spec.name, bin: bin, dir: filepath.Join(r.dir, spec.name), ports: ports, env: env, stopped: map[int]bool{}}
		m.logsDir = filepath.Join(r.dir, "logs-"+spec.name)
		if t != nil {
			m.logsDir = filepath.Join(t.dir, spec.name)
		}
		r.ms = append(r.ms, m)
		if err := r.start(m); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) start(m *manager) error {
	for _, d := range []string{m.dir, m.logsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := m.writeConfig(r.root); err != nil {
		return err
	}
	if err := m.up(r.ctx); err != nil {
		return err
	}
	r.logf("%s: manager pid %d, ports %v", m.name, m.proc.PID, m.ports)
	return m.startNginx(r.ctx)
}

// inject runs the load and draws faults until o.duration has passed.
func (r *run) inject() (int64, []failure) {
	l := startLoad(r.ms, r.o.workers, r.o.pause)
	sleep(r.ctx, 2*time.Second) // warm: keep-alive connections open
	end := time.Now().Add(r.o.duration)
	for step := 1; time.Now().Before(end) && r.ctx.Err() == nil; step++ {
		sleep(r.ctx, between(r.rng, 200*time.Millisecond, 1500*time.Millisecond))
		f := draw(r.rng)
		m := r.ms[r.rng.IntN(len(r.ms))]
		w := window{step: step, kind: f.kind, target: m.name, began: time.Now()}
		if !f.do(r, m, &w) {
			step--
			continue
		}
		w.ended = time.Now()
		r.logf("#%d %s on %s %s (%.1fs)%s", step, f.kind, m.name, w.detail, w.ended.Sub(w.began).Seconds(), failed(w))
		r.check(&w)
		r.windows = append(r.windows, w)
	}
	sleep(r.ctx, 2*time.Second) // the last drains end
	return l.stop()
}

func failed(w window) string {
	if w.failedCmd == "" {
		return ""
	}
	return "\n    command failed: " + w.failedCmd
}

// finish takes both managers down, looks for what they left, counts
// the log lines, and reports.
func (r *run) finish(sent int64, failures []failure) (*result, error) {
	var downErrs []string
	for _, m := range r.ms {
		if out, err := m.hellomgr(context.Background(), 2*time.Minute, "down"); err != nil && m.alive() {
			downErrs = append(downErrs, fmt.Sprintf("%s: hellomgr down: %v: %s", m.name, err, firstLines(out, 3)))
		}
		if !m.proc.WaitGone(30 * time.Second) {
			downErrs = append(downErrs, fmt.Sprintf("%s: manager (pid %d) still running 30 s after down", m.name, m.proc.PID))
		}
		r.collectPanics(m, &window{kind: "down", target: m.name})
	}
	time.Sleep(time.Second) // what a stop ends takes a moment to be reaped
	left, _ := r.leftovers()
	var full []window
	for _, w := range r.windows {
		if w.kind == "disk full for the logs" {
			full = append(full, w)
		}
	}
	lines, err := countLines(r.byName("tornado").logsDir, full)
	if err != nil {
		return nil, err
	}
	res := r.result(sent, failures, left, downErrs, lines, len(full))
	res.print(os.Stdout, r)
	if r.o.jsonPath != "" {
		if err := res.writeJSON(r.o.jsonPath); err != nil {
			return res, err
		}
	}
	if r.o.detail != "" {
		if err := r.writeDetail(r.o.detail, failures, lines.gaps); err != nil {
			return res, err
		}
		for _, m := range r.ms { // nginx's view of the upstream servers
			b, _ := os.ReadFile(filepath.Join(m.nginx.Prefix, "error.log"))
			os.WriteFile(r.o.detail+".nginx-"+m.name+".log", b, 0o644)
		}
	}
	return res, nil
}

// cleanup ends every process tied to the run and its nginx, by pid, and
// unmounts the tmpfs. Safe to call twice.
func (r *run) cleanup() {
	for _, m := range r.ms {
		if m.alive() {
			m.hellomgr(context.Background(), 30*time.Second, "down")
			m.proc.Stop(syscall.SIGTERM, 10*time.Second)
		}
		if m.nginx != nil {
			m.nginx.Stop()
		}
	}
	r.killLeftovers()
	if err := r.tmpfs.unmount(); err != nil {
		fmt.Fprintf(os.Stderr, "chaos: unmount %s: %v\n", r.tmpfs.dir, err)
	}
}
