package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hellomgr/hellomgr/proc"
)

const wrkPath = "/usr/bin/wrk"

// wrkScript prints wrk's summary in one line the bench reads. It defines
// done only: a response callback would run Lua for every response and
// slow wrk down.
const wrkScript = `-- written by bench/metrics
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("hm-summary %d %d %d %d %d %d %d %.0f %.0f %.0f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(99)))
end
`

// wrkRun is one measured run of wrk against one server.
type wrkRun struct {
	mode     string // "metrics on" or "metrics off"
	server   string // the server's command line
	command  string // wrk's command line
	requests int
	duration time.Duration
	errors   int // socket errors and non-2xx/3xx responses
	mean     time.Duration
	p50, p99 time.Duration
	cpu      float64 // seconds of CPU the server used during the run
}

func (r wrkRun) perSecond() float64 { return float64(r.requests) / r.duration.Seconds() }

// cpuPerRequest is the server's CPU time per request. Unlike the
// throughput, it hardly depends on what else the machine runs meanwhile.
func (r wrkRun) cpuPerRequest() time.Duration {
	return time.Duration(r.cpu / float64(r.requests) * float64(time.Second))
}

// wrkArgs is wrk's command line for a run of d against port.
func wrkArgs(o options, script string, d time.Duration, port int) []string {
	args := []string{wrkPath, "-t" + strconv.Itoa(o.threads), "-c" + strconv.Itoa(o.connections),
		"-d" + strconv.Itoa(int(d.Seconds())) + "s", "-s", script, "http://127.0.0.1:" + strconv.Itoa(port) + "/"}
	if o.pin {
		args = append([]string{"/usr/bin/taskset", "-c", "1"}, args...)
	}
	return args
}

// throughput runs wrk against a server with metrics and one without, one
// after the other, o.rounds times, the first mode alternating.
func throughput(ctx context.Context, bin string, o options) ([]wrkRun, error) {
	dir, err := os.MkdirTemp("", "hmwrk")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "summary.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		return nil, err
	}
	var runs []wrkRun
	for round := range o.rounds {
		modes := [][]string{nil, {"--no-metrics"}}
		if round%2 == 1 {
			slices.Reverse(modes) // neither mode always goes first
		}
		for _, extra := range modes {
			r, err := measureServer(ctx, bin, script, o, extra)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(os.Stderr, "bench/metrics: %s: %.0f requests/s\n", r.mode, r.perSecond())
			runs = append(runs, r)
		}
	}
	return runs, nil
}

// measureServer starts a server with the extra flags, warms it up, runs
// wrk on it while measuring the CPU time it uses, and stops it.
func measureServer(ctx context.Context, bin, script string, o options, extra []string) (wrkRun, error) {
	s, err := startServer(ctx, bin, o.pin, extra...)
	if err != nil {
		return wrkRun{}, err
	}
	defer s.stop()
	if o.warmup >= time.Second {
		if _, err := runWrk(ctx, wrkArgs(o, script, o.warmup, s.port)); err != nil {
			return wrkRun{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	args := wrkArgs(o, script, o.duration, s.port)
	before, err := proc.Read(s.cmd.Process.Pid)
	if err != nil {
		return wrkRun{}, err
	}
	r, err := runWrk(ctx, args)
	if err != nil {
		return wrkRun{}, err
	}
	after, err := proc.Read(s.cmd.Process.Pid)
	if err != nil {
		return wrkRun{}, err
	}
	r.cpu = after.CPUSeconds - before.CPUSeconds
	r.mode = "metrics on"
	if len(extra) > 0 {
		r.mode = "metrics off"
	}
	r.server, r.command = strings.Join(s.argv, " "), strings.Join(args, " ")
	return r, nil
}

var summaryLine = regexp.MustCompile(`(?m)^hm-summary ((?:\S+ ?){10})$`)

// runWrk runs wrk and reads the summary line its script prints.
func runWrk(ctx context.Context, args []string) (wrkRun, error) {
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return wrkRun{}, fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, out)
	}
	m := summaryLine.FindStringSubmatch(string(out))
	if m == nil {
		return wrkRun{}, fmt.Errorf("%s: no summary in its output:\n%s", strings.Join(args, " "), out)
	}
	var f [10]float64
	for i, s := range strings.Fields(m[1]) {
		if f[i], err = strconv.ParseFloat(s, 64); err != nil {
			return wrkRun{}, fmt.Errorf("wrk summary %q: %w", m[0], err)
		}
	}
	us := func(v float64) time.Duration { return time.Duration(v * float64(time.Microsecond)) }
	errs := 0
	for _, v := range f[2:7] {
		errs += int(v)
	}
	return wrkRun{requests: int(f[0]), duration: us(f[1]), errors: errs, mean: us(f[7]), p50: us(f[8]), p99: us(f[9])}, nil
}

// printThroughput writes the runs side by side and the cost of metrics.
func printThroughput(w io.Writer, runs []wrkRun, o options) {
	fmt.Fprintf(w, "## Built-in server, metrics on and off (%d connections, %s each)\n\n", o.connections, o.duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "mode\trequests/s\trequests\terrors\tlatency mean\tp50\tp99\tserver CPU/request")
	var on, off, onCPU, offCPU []float64
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%.0f\t%d\t%d\t%s\t%s\t%s\t%.2fµs\n", r.mode, r.perSecond(), r.requests, r.errors,
			round(r.mean), round(r.p50), round(r.p99), r.cpuPerRequest().Seconds()*1e6)
		if r.mode == "metrics on" {
			on, onCPU = append(on, r.perSecond()), append(onCPU, r.cpuPerRequest().Seconds())
		} else {
			off, offCPU = append(off, r.perSecond()), append(offCPU, r.cpuPerRequest().Seconds())
		}
	}
	tw.Flush()
	ratio := median(on) / median(off)
	fmt.Fprintf(w, "\nthroughput, metrics on / off: %.3f, so instrumentation costs %s of it (target at most 5%%: %s)\n",
		ratio, cost(ratio), verdict(ratio))
	// At full load the server is CPU-bound: the throughput it can reach
	// is the inverse of its CPU time per request. That figure hardly moves
	// with what else the machine runs, where the throughput of one run can
	// swing by a third.
	cpuRatio := median(offCPU) / median(onCPU)
	fmt.Fprintf(w, "server CPU per request, off / on: %.3f, so instrumentation costs %s of the throughput it allows (target at most 5%%: %s)\n",
		cpuRatio, cost(cpuRatio), verdict(cpuRatio))
	fmt.Fprintf(w, "(%d run(s) per mode, one after the other; medians)\n", o.rounds)
	fmt.Fprintln(w, "\ncommands, as run (on free ports picked at run time):")
	seen := map[string]bool{}
	for _, r := range runs {
		if !seen[r.mode] {
			seen[r.mode] = true
			fmt.Fprintf(w, "  %s: %s\n    wrk: %s\n", r.mode, r.server, r.command)
		}
	}
	fmt.Fprintln(w)
}

func verdict(ratio float64) string {
	if ratio < 0.95 {
		return "OVER"
	}
	return "within"
}

// cost is 1 - ratio as a percentage; below 0, it is noise.
func cost(ratio float64) string {
	if ratio > 1 {
		return fmt.Sprintf("%.1f%% (below 0: noise)", 100*(1-ratio))
	}
	return fmt.Sprintf("%.1f%%", 100*(1-ratio))
}

func round(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
