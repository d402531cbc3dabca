package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
	"github.com/hellomgr/hellomgr/proc"
)

// wrkRun is one measured run of wrk against one server.
type wrkRun struct {
	mode   string // "metrics on" or "metrics off"
	server string // the server's command line
	stats  benchkit.WrkStats
	cpu    float64 // seconds of CPU the server used during the run
}

// cpuPerRequest is the server's CPU time per request, in seconds. Unlike
// the throughput, it hardly depends on what else the machine runs.
func (r wrkRun) cpuPerRequest() float64 { return r.cpu / float64(max(1, r.stats.Responses)) }

// throughput runs wrk against a server with metrics and one without, one
// after the other, o.rounds times, the first mode alternating.
func throughput(ctx context.Context, bin string, o options) ([]wrkRun, error) {
	var runs []wrkRun
	for round := range o.rounds {
		modes := [][]string{nil, {"--no-metrics"}}
		if round%2 == 1 {
			slices.Reverse(modes) // neither mode always goes first
		}
		for _, extra := range modes {
			r, err := measureServer(ctx, bin, o, extra)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(os.Stderr, "bench/metrics: %s: %.0f requests/s\n", r.mode, r.stats.PerSecond())
			runs = append(runs, r)
		}
	}
	return runs, nil
}

// measureServer starts a server with the extra flags, warms it up, runs
// wrk on it while measuring the CPU time it uses, and stops it.
func measureServer(ctx context.Context, bin string, o options, extra []string) (wrkRun, error) {
	s, err := startServer(ctx, bin, o.pin, extra...)
	if err != nil {
		return wrkRun{}, err
	}
	defer s.stop()
	c := benchkit.WrkConfig{URL: "http://127.0.0.1:" + strconv.Itoa(s.port) + "/", Threads: o.threads,
		Connections: o.connections, Duration: o.warmup}
	if o.pin {
		c.Pin = "1"
	}
	if o.warmup >= time.Second {
		if _, err := benchkit.RunWrk(ctx, c); err != nil {
			return wrkRun{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	before, err := proc.Read(s.cmd.Process.Pid)
	if err != nil {
		return wrkRun{}, err
	}
	c.Duration = o.duration
	st, err := benchkit.RunWrk(ctx, c)
	if err != nil {
		return wrkRun{}, err
	}
	after, err := proc.Read(s.cmd.Process.Pid)
	if err != nil {
		return wrkRun{}, err
	}
	r := wrkRun{mode: "metrics on", server: strings.Join(s.argv, " "), stats: st, cpu: after.CPUSeconds - before.CPUSeconds}
	if len(extra) > 0 {
		r.mode = "metrics off"
	}
	return r, nil
}

// reportThroughput puts the runs side by side, and the cost of metrics,
// in r.
func reportThroughput(r *benchkit.Report, runs []wrkRun, o options) {
	t := benchkit.Table{Columns: []string{"mode", "requests/s", "requests", "errors", "latency mean", "p50", "p99", "server CPU/request"}}
	perMode := map[string][2][]float64{} // requests/s, CPU per request
	for _, w := range runs {
		s := w.stats
		t.Rows = append(t.Rows, []string{w.mode, fmt.Sprintf("%.0f", s.PerSecond()), strconv.Itoa(s.Responses),
			strconv.Itoa(s.Errors.Sum() + s.Errors.Status + s.Errors.Timeout),
			ms(s.MeanMs), ms(s.P50Ms), ms(s.P99Ms), fmt.Sprintf("%.2f µs", w.cpuPerRequest()*1e6)})
		m := perMode[w.mode]
		perMode[w.mode] = [2][]float64{append(m[0], s.PerSecond()), append(m[1], w.cpuPerRequest())}
	}
	r.Tables = append(r.Tables, t)
	on, off := perMode["metrics on"], perMode["metrics off"]
	ratio := benchkit.Median(on[0]) / benchkit.Median(off[0])
	r.Target(ratio >= 0.95, "throughput, metrics on / off, %.3f (%d run(s) per mode, medians): instrumentation costs %.1f%% of it, target at most 5%% (below 0: noise)",
		ratio, o.rounds, 100*(1-ratio))
	// At full load the server is CPU-bound: the throughput it can reach
	// is the inverse of its CPU time per request, which hardly moves with
	// what else the machine runs, where one run's throughput can swing by
	// a third.
	cpuRatio := benchkit.Median(off[1]) / benchkit.Median(on[1])
	r.Target(cpuRatio >= 0.95, "server CPU per request, off / on, %.3f: instrumentation costs %.1f%% of the throughput it allows, target at most 5%%",
		cpuRatio, 100*(1-cpuRatio))
	r.Notes = append(r.Notes, fmt.Sprintf("Built-in server, metrics on (`%s`) and off (`--no-metrics`), %d connections, %s each after a %s warm-up; wrk: `%s`.",
		runs[0].server, o.connections, o.duration, o.warmup, runs[0].stats.Command))
}

// ms is a latency in milliseconds, rounded as it reads best.
func ms(v float64) string { return round(time.Duration(v * float64(time.Millisecond))).String() }

func round(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
