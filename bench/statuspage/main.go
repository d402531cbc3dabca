// Command statuspage measures the manager's live status page at scale in
// headless Chromium (Debian's chromium): how long the first render takes
// at 256 ports (target: under 200 ms, from navigation start to the first
// data drawn), what a page polling every second costs the manager
// (target: under 1% of a core, manager CPU over a window with the page
// open, beside the same window with no page), and how soon a `hellomgr
// stop PORT` shows on the page (target: 2 s).
//
//	go -C bench run ./statuspage [-ports 256] [-renders 5] [-window 30s]
//
// The instances run bench/scale's small app (a few MiB each), so that 256
// of them fit on a small machine. Every process it starts is stopped by
// pid.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
	"github.com/hellomgr/hellomgr/internal/cdp"
	"github.com/hellomgr/hellomgr/manager"
)

const chromium = "/usr/bin/chromium"

type options struct {
	ports   int
	renders int
	window  time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.ports, "ports", 256, "instances")
	flag.IntVar(&o.renders, "renders", 5, "page loads timed for the first render")
	flag.DurationVar(&o.window, "window", 30*time.Second, "how long the manager's CPU is measured, without and with the page")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "statuspage:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if _, err := os.Stat(chromium); err != nil {
		return fmt.Errorf("%s is missing: apt-get install -y chromium", chromium)
	}
	fmt.Printf("status page bench: %d ports, load average %s\n", o.ports, benchkit.LoadAverage())
	d, err := deploy(ctx, o.ports)
	if err != nil {
		return err
	}
	defer d.close()
	url := "http://" + d.metrics + "/"

	cold, renders, err := firstRenders(ctx, url, o.renders, o.ports)
	if err != nil {
		return err
	}
	median := medianOf(renders, func(r firstRender) float64 { return r.Render })
	fmt.Printf("first render at %d ports, ms from navigation start: median %.0f of %d loads (DOMContentLoaded: %.0f) %s\n",
		o.ports, median, len(renders), medianOf(renders, func(r firstRender) float64 { return r.Loaded }),
		verdict(median < 200, "target: under 200 ms"))
	fmt.Printf("  in a browser just started (its renderer starting too): %.0f (DOMContentLoaded: %.0f)\n", cold.Render, cold.Loaded)

	idle, err := managerCPU(d.pid, o.window)
	if err != nil {
		return err
	}
	b, err := openPage(ctx, url, o.ports)
	if err != nil {
		return err
	}
	defer b.Close()
	watched, err := managerCPU(d.pid, o.window)
	if err != nil {
		return err
	}
	fmt.Printf("manager CPU over %s: %.3f%% of a core with no page, %.3f%% with the page polling every second %s\n",
		o.window, idle, watched, verdict(watched < 1, "target: under 1%"))

	took, err := stopShows(ctx, b, d, o.ports)
	if err != nil {
		return err
	}
	fmt.Printf("hellomgr stop PORT shown on the page %d ms after the command returned %s\n",
		took.Milliseconds(), verdict(took < 2*time.Second, "target: within 2 s"))
	return nil
}

func verdict(met bool, target string) string {
	if met {
		return "(" + target + ": met)"
	}
	return "(" + target + ": NOT met)"
}

// firstRender is where one page load's first render went, in ms from
// navigation start: the page's own files loaded (DOMContentLoaded; the
// first status comes in the page), the first data drawn.
type firstRender struct {
	Loaded float64 `json:"loaded"`
	Render float64 `json:"render"`
}

const firstRenderJS = `({loaded: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
	render: window.statusPage.firstRenderMs})`

// firstRenders opens the page in a new Chromium, then loads it again n
// times in that browser (as a user's running browser would open it: a
// new browser's first page also waits for its renderer to start) and
// returns each load's figures, the new browser's first load apart.
func firstRenders(ctx context.Context, url string, n, ports int) (cold firstRender, warm []firstRender, err error) {
	b, err := openPage(ctx, url, ports)
	if err != nil {
		return cold, nil, err
	}
	defer b.Close()
	if err := b.Eval(ctx, firstRenderJS, &cold); err != nil {
		return cold, nil, err
	}
	for range n {
		if err := b.Eval(ctx, "window.hmReloading = true; location.reload()", nil); err != nil {
			return cold, nil, err
		}
		if err := waitDrawn(ctx, b, ports); err != nil {
			return cold, nil, err
		}
		var r firstRender
		if err := b.Eval(ctx, firstRenderJS, &r); err != nil {
			return cold, nil, err
		}
		warm = append(warm, r)
	}
	return cold, warm, nil
}

// medianOf is the median of one field of the loads.
func medianOf(rs []firstRender, field func(firstRender) float64) float64 {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = field(r)
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// openPage starts Chromium on url and waits until the page has drawn
// every port.
func openPage(ctx context.Context, url string, ports int) (*cdp.Browser, error) {
	b, err := cdp.Start(ctx, chromium, url, 1200, 800)
	if err != nil {
		return nil, err
	}
	if err := waitDrawn(ctx, b, ports); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// waitDrawn waits until the page has drawn every port.
func waitDrawn(ctx context.Context, b *cdp.Browser, ports int) error {
	expr := "!window.hmReloading && window.statusPage && window.statusPage.renders > 0 ? document.querySelectorAll('#rows tr').length : 0"
	if err := waitEval(ctx, b, expr, func(v int) bool { return v == ports }); err != nil {
		return fmt.Errorf("the page never drew %d ports: %w", ports, err)
	}
	return nil
}

func waitEval[T any](ctx context.Context, b *cdp.Browser, expr string, cond func(T) bool) error {
	deadline := time.Now().Add(60 * time.Second)
	var v T
	for time.Now().Before(deadline) {
		if err := b.Eval(ctx, expr, &v); err == nil && cond(v) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("%s: last %v", expr, v)
}

// managerCPU is the manager's CPU over window, in percent of a core.
func managerCPU(pid int, window time.Duration) (float64, error) {
	s, err := benchkit.Sample(pid, time.Second)
	if err != nil {
		return 0, err
	}
	time.Sleep(window)
	u, err := s.Stop()
	return u.CPUPercent, err
}

// stopShows stops the middle port and times until the page shows it.
func stopShows(ctx context.Context, b *cdp.Browser, d *deployment, ports int) (time.Duration, error) {
	port := d.ports[ports/2]
	if out, err := exec.CommandContext(ctx, d.bin, "stop", strconv.Itoa(port), "-c", d.file).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("hellomgr stop %d: %w\n%s", port, err, out)
	}
	start := time.Now()
	expr := fmt.Sprintf("(document.querySelector('tr[data-port=\"%d\"]') || {dataset: {}}).dataset.state", port)
	if err := waitEval(ctx, b, expr, func(s string) bool { return s == "stopped" }); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// deployment is a manager on n ports of the small app.
type deployment struct {
	dir, bin, file, metrics string
	ports                   []int
	pid                     int
}

func deploy(ctx context.Context, n int) (*deployment, error) {
	root, err := benchkit.ModuleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "hmsp")
	if err != nil {
		return nil, err
	}
	d := &deployment{dir: dir, file: filepath.Join(dir, "config.yaml")}
	if d.bin, err = benchkit.Build(ctx, root, dir); err != nil {
		d.close()
		return nil, err
	}
	app := filepath.Join(dir, "app")
	build := exec.CommandContext(ctx, "go", "build", "-C", "bench", "-ldflags=-s -w", "-o", app, "./scale/app")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		d.close()
		return nil, fmt.Errorf("build the small app: %w\n%s", err, out)
	}
	if err := d.start(ctx, app, n); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *deployment) start(ctx context.Context, app string, n int) error {
	ports, err := benchkit.FreePorts(n + 1)
	if err != nil {
		return err
	}
	d.ports, d.metrics = ports[:n], "127.0.0.1:"+strconv.Itoa(ports[n])
	slices.Sort(d.ports)
	var b strings.Builder
	b.WriteString("ports:\n")
	for _, p := range d.ports {
		fmt.Fprintf(&b, "  - %d\n", p)
	}
	fmt.Fprintf(&b, "command: [%q]\nenv:\n  GOMAXPROCS: \"1\"\nready:\n  notify: true\nreload:\n  handoff: socket\nmetrics:\n  address: %s\n", app, d.metrics)
	if err := os.WriteFile(d.file, []byte(b.String()), 0o644); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, d.bin, "up", "-d", "-c", d.file).CombinedOutput()
	d.pid, _ = manager.RunningPID(filepath.Join(d.dir, ".hellomgr"))
	if err != nil {
		return fmt.Errorf("hellomgr up: %w\n%s", err, out)
	}
	if d.pid == 0 {
		return errors.New("up -d returned but no manager pid is recorded")
	}
	return nil
}

// close stops the manager (down, then SIGKILL by pid: its instances die
// with it) and removes the folder.
func (d *deployment) close() {
	if d.pid != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		exec.CommandContext(ctx, d.bin, "down", "-c", d.file).Run()
		cancel()
		if p, ok := benchkit.Find(d.pid); ok && p.Alive() {
			syscall.Kill(d.pid, syscall.SIGKILL)
		}
	}
	os.RemoveAll(d.dir)
}
