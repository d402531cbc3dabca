package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// abRounds runs o.rounds rounds, each measuring every server on fresh
// processes, the one that goes first changing from round to round.
func abRounds(ctx context.Context, dir string, o options) ([]wrkRun, error) {
	var runs []wrkRun
	for round := range o.rounds {
		servers, err := startServers(o.bin, o.pin)
		if err != nil {
			return nil, err
		}
		k := round % len(servers)
		for _, s := range append(servers[k:], servers[:k]...) {
			r, err := measure(ctx, dir, s, o)
			if err != nil {
				stopAll(servers)
				return nil, err
			}
			fmt.Fprintf(os.Stderr, "bench/builtin: round %d, %s: %.0f requests/s, %.2f µs CPU/request (%s)\n",
				round+1, s.name, r.perSecond(), r.cpuPerRequest()*1e6, s)
			runs = append(runs, r)
		}
		stopAll(servers)
	}
	return runs, nil
}

// report puts every run, the ratio of the medians and the verdict in r.
func report(r *benchkit.Report, runs []wrkRun, o options) {
	t := benchkit.Table{Columns: []string{"server", "requests/s", "requests", "server CPU/request"}}
	var rate, cpu = map[string][]float64{}, map[string][]float64{}
	for _, w := range runs {
		t.Rows = append(t.Rows, []string{w.server, fmt.Sprintf("%.0f", w.perSecond()), strconv.Itoa(w.stats.Responses),
			fmt.Sprintf("%.2f µs", w.cpuPerRequest()*1e6)})
		rate[w.server] = append(rate[w.server], w.perSecond())
		cpu[w.server] = append(cpu[w.server], w.cpuPerRequest())
	}
	r.Tables = append(r.Tables, t)
	place := "both servers on CPU 0, wrk on CPU 1 (taskset)"
	if !o.pin {
		place = "nothing pinned"
	}
	r.Notes = append(r.Notes, fmt.Sprintf("built-in: `hellomgr serve --port P` (metrics on, as every instance runs it); no metrics: "+
		"the same with `--no-metrics`; plain: plain.go's server, this program re-executed. "+
		"wrk -t1 -c%d, %s per run after a %s warm-up, %d rounds, the one that goes first changing. Placement: %s; each server and each wrk "+
		"in a session of its own (Linux autogroups share CPU between sessions).", o.connections, o.duration, o.warmup, o.rounds, place))
	ratio := benchkit.Median(rate["built-in"]) / benchkit.Median(rate["plain"])
	r.Target(ratio >= 0.95, "throughput, built-in / plain, ratio of medians %.3f (%.0f / %.0f requests/s), target at least 0.95",
		ratio, benchkit.Median(rate["built-in"]), benchkit.Median(rate["plain"]))
	cpuRatio := benchkit.Median(cpu["plain"]) / benchkit.Median(cpu["built-in"])
	r.Target(cpuRatio >= 0.95, "server CPU per request, plain / built-in, ratio of medians %.3f (%.2f / %.2f µs), target at least 0.95",
		cpuRatio, benchkit.Median(cpu["plain"])*1e6, benchkit.Median(cpu["built-in"])*1e6)
	on, off := benchkit.Median(rate["built-in"]), benchkit.Median(rate["no metrics"])
	r.Target(on/off >= 0.95, "throughput, metrics on / off, ratio of medians %.3f: instrumentation costs %.1f%%, target at most 5%%", on/off, 100*(1-on/off))
	cpuOn, cpuOff := benchkit.Median(cpu["built-in"]), benchkit.Median(cpu["no metrics"])
	r.Target(cpuOff/cpuOn >= 0.95, "server CPU per request, metrics off / on, %.3f (%.2f / %.2f µs): instrumentation costs %.1f%% of the throughput it allows, target at most 5%%",
		cpuOff/cpuOn, cpuOff*1e6, cpuOn*1e6, 100*(1-cpuOff/cpuOn))
	r.Raw = map[string]any{"requests_per_s": rate, "cpu_s_per_request": cpu}
}
