package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// abRounds runs o.rounds rounds, each measuring the built-in server and
// the plain one on fresh processes, the first alternating.
func abRounds(ctx context.Context, dir string, o options) ([]wrkRun, error) {
	var runs []wrkRun
	for round := range o.rounds {
		a, b, err := startPair(o.bin, o.pin)
		if err != nil {
			return nil, err
		}
		order := []*server{a, b}
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			r, err := measure(ctx, dir, s, o)
			if err != nil {
				a.stop()
				b.stop()
				return nil, err
			}
			fmt.Fprintf(os.Stderr, "bench/builtin: round %d, %s: %.0f requests/s, %.2f µs CPU/request\n",
				round+1, s.name, r.perSecond(), r.cpuPerRequest()*1e6)
			runs = append(runs, r)
		}
		if round == 0 {
			fmt.Fprintf(os.Stderr, "bench/builtin: A: %s\nbench/builtin: B: %s\n", a, b)
		}
		a.stop()
		b.stop()
	}
	return runs, nil
}

// printReport writes every run, the ratio of the medians and the verdict.
func printReport(w io.Writer, runs []wrkRun, o options) {
	fmt.Fprintf(w, "## Built-in server vs plain net/http (wrk -t1 -c%d, %s per run, %d rounds)\n\n", o.connections, o.duration, o.rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "server\trequests/s\trequests\tserver CPU/request")
	var rate, cpu = map[string][]float64{}, map[string][]float64{}
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%.0f\t%d\t%.2f µs\n", r.server, r.perSecond(), r.requests, r.cpuPerRequest()*1e6)
		rate[r.server] = append(rate[r.server], r.perSecond())
		cpu[r.server] = append(cpu[r.server], r.cpuPerRequest())
	}
	tw.Flush()
	ratio := median(rate["built-in"]) / median(rate["plain"])
	fmt.Fprintf(w, "\nthroughput, built-in / plain, ratio of medians: %.3f (%.0f / %.0f requests/s); target at least 0.95: %s\n",
		ratio, median(rate["built-in"]), median(rate["plain"]), verdict(ratio))
	cpuRatio := median(cpu["plain"]) / median(cpu["built-in"])
	fmt.Fprintf(w, "server CPU per request, plain / built-in, ratio of medians: %.3f (%.2f / %.2f µs): the throughput each allows at full load\n",
		cpuRatio, median(cpu["plain"])*1e6, median(cpu["built-in"])*1e6)
	place := "both servers on CPU 0, wrk on CPU 1 (taskset)"
	if !o.pin {
		place = "nothing pinned"
	}
	fmt.Fprintf(w, "\nPlacement: %s; each server and each wrk in a session of its own (Linux autogroups share CPU between sessions).\n", place)
	fmt.Fprintf(w, "Machine: %d CPUs, %s, load average %s, %s.\n", runtime.NumCPU(), runtime.Version(), loadAvg(), time.Now().Format("2006-01-02"))
	fmt.Fprintf(w, "A: hellomgr serve --port P (metrics on); B: plain.go's server, this program re-executed.\n")
	fmt.Fprintf(w, "Command: go -C bench run ./builtin -rounds %d -duration %s -connections %d\n", o.rounds, o.duration, o.connections)
}

func verdict(ratio float64) string {
	if ratio < 0.95 {
		return "NOT MET"
	}
	return "met"
}

func loadAvg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
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
