package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"time"
)

// column is one figure of the main table.
type column struct {
	head  string
	get   func(result) float64
	unit  string            // of the per-instance slope
	scale float64           // from the column's unit to the slope's
	mark  func(result) bool // a figure with a footnote (†)
}

func columns(o options) []column {
	mb := func(b int64) float64 { return float64(b) / (1 << 20) }
	return []column{
		{"all ready (s)", func(r result) float64 { return r.ReadySeconds }, "ms", 1000, nil},
		{"CPU to start all (s)", func(r result) float64 { return r.UpCPU }, "ms", 1000, nil},
		{"reload, 1 at a time (s)", func(r result) float64 { return r.Reload.Seconds }, "ms", 1000, func(r result) bool { return r.Reload.CLIError != "" }},
		{fmt.Sprintf("reload, %d at a time (s)", o.wide), func(r result) float64 { return r.Wide.Seconds }, "ms", 1000, func(r result) bool { return r.Wide.CLIError != "" }},
		{"down (s)", func(r result) float64 { return r.DownSeconds }, "ms", 1000, nil},
		{"manager RSS after up (MiB)", func(r result) float64 { return mb(r.MemAfterUp.RSS) }, "KiB", 1024, nil},
		{"manager RSS after idle (MiB)", func(r result) float64 { return mb(r.MemIdle.RSS) }, "KiB", 1024, nil},
		{"manager peak RSS (MiB)", func(r result) float64 { return mb(r.MemAtEnd.Peak) }, "KiB", 1024, nil},
		{"manager idle CPU (% core)", func(r result) float64 { return 100 * r.IdleCPU }, "% core", 1, nil},
		{"status p50 (ms)", func(r result) float64 { return r.Status.Median }, "µs", 1000, nil},
		{"status p95 (ms)", func(r result) float64 { return r.Status.P95 }, "µs", 1000, nil},
		{"status p50, readings expired (ms)", func(r result) float64 { return r.StatusCold.Median }, "µs", 1000, nil},
		{"status socket p50 (ms)", func(r result) float64 { return r.StatusSocket.Median }, "µs", 1000, nil},
		{"manager CPU per status (ms)", func(r result) float64 { return r.StatusCPU }, "µs", 1000, nil},
		{"manager CPU per status, readings expired (ms)", func(r result) float64 { return r.StatusColdCPU }, "µs", 1000, nil},
		{"probe p50 (ms)", func(r result) float64 { return r.Probe.Median }, "µs", 1000, nil},
		{"probe p95 (ms)", func(r result) float64 { return r.Probe.P95 }, "µs", 1000, nil},
		{"manager CPU per probe (ms)", func(r result) float64 { return r.ProbeCPU }, "µs", 1000, nil},
		{"manager CPU per /metrics (ms)", func(r result) float64 { return r.MetricsCPU }, "µs", 1000, nil},
	}
}

// printReport writes the markdown report: the figures by size, how each
// grows from the smallest size to the largest, the manager's memory
// broken down, the targets, the machine and the command.
func printReport(w io.Writer, rs []result, o options) {
	cols := columns(o)
	app := "the small app, bench/scale/app"
	if o.app == "builtin" {
		app = "the built-in server"
	}
	fmt.Fprintf(w, "Instances running %s.\n\n### Start, reload, stop\n\n", app)
	printTable(w, rs, cols[:5])
	fmt.Fprintf(w, "\nThe wide reload uses reload.max_unavailable %d (capped at the size: %s).\n", o.wide, wideNote(rs))
	fmt.Fprintf(w, "`down` returns when the manager's pid is gone: its exit, and then its reaping by whoever adopted it (`up -d` leaves it to pid 1).\n")
	fmt.Fprintf(w, "\n### Manager resources and request latency\n\n")
	printTable(w, rs, cols[5:])
	printStatus(w, rs)
	printReloads(w, rs)
	printMemory(w, rs)
	printTargets(w, rs, cols)
	fmt.Fprintf(w, "\nMachine: %d CPUs seen by Go (2 shared cores, other work running), %s, %s/%s, %s.\n",
		runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, time.Now().Format("2006-01-02"))
	fmt.Fprintf(w, "Load average (1 min) at the start and end of each size: %s. Wall times grow with it; the CPU columns do not.\n", loads(rs))
	fmt.Fprintf(w, "Idle window %s; %d `hellomgr status` runs back to back, %d with the readings expired, and %d /probe scrapes per size, after one warm-up each.\n",
		o.idle, o.statusRuns, o.coldRuns, o.scrapes)
}

// printTable writes one row per size, then how each column grew from the
// smallest size to the largest.
func printTable(w io.Writer, rs []result, cols []column) {
	first, last := rs[0], rs[len(rs)-1]
	linear := float64(last.N) / float64(first.N)
	row(w, "instances", heads(cols))
	row(w, "---", repeat("---:", len(cols)))
	for _, r := range rs {
		row(w, fmt.Sprint(r.N), values(cols, r))
	}
	if len(rs) > 1 {
		growth, vsLinear, slope := growthRows(cols, first, last, linear)
		row(w, fmt.Sprintf("growth %d→%d (×)", first.N, last.N), growth)
		row(w, fmt.Sprintf("growth ÷ %.0f (≤ 1: no worse than linear)", linear), vsLinear)
		row(w, "per added instance", slope)
		if from, ok := fromSize(rs, 64); ok {
			row(w, fmt.Sprintf("grows %d→%d", from.N, last.N), growthKinds(cols, from, last))
		}
	}
}

// fromSize is the first result of at least n instances that is not the
// last one.
func fromSize(rs []result, n int) (result, bool) {
	for _, r := range rs[:len(rs)-1] {
		if r.N >= n {
			return r, true
		}
	}
	return result{}, false
}

// growthKinds says how each column grows from a to b: with k the
// exponent of the growth (b/a = (b.N/a.N)^k), flat when k < 0.25, linear
// up to 1.15 (sub-linear in between), worse beyond.
func growthKinds(cols []column, a, b result) []string {
	var out []string
	for _, c := range cols {
		out = append(out, growthKind(c.get(a), c.get(b), a.N, b.N))
	}
	return out
}

func growthKind(a, b float64, na, nb int) string {
	if a <= 0 || b <= 0 {
		return "n/a"
	}
	k := math.Log(b/a) / math.Log(float64(nb)/float64(na))
	switch {
	case k < 0.25:
		return fmt.Sprintf("flat (k=%.2f)", k)
	case k < 0.85:
		return fmt.Sprintf("sub-linear (k=%.2f)", k)
	case k <= 1.15:
		return fmt.Sprintf("linear (k=%.2f)", k)
	}
	return fmt.Sprintf("WORSE (k=%.2f)", k)
}

func growthRows(cols []column, first, last result, linear float64) (growth, vsLinear, slope []string) {
	for _, c := range cols {
		a, b := c.get(first), c.get(last)
		per := (b - a) / float64(last.N-first.N) * c.scale
		slope = append(slope, fmt.Sprintf("%.3g %s", per, c.unit))
		if a <= 0 {
			growth, vsLinear = append(growth, "n/a"), append(vsLinear, "n/a")
			continue
		}
		growth = append(growth, fmt.Sprintf("%.2f", b/a))
		vsLinear = append(vsLinear, fmt.Sprintf("%.3f", b/a/linear))
	}
	return growth, vsLinear, slope
}

func loads(rs []result) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprintf("%d: %.1f → %.1f", r.N, r.LoadAvg[0], r.LoadAvg[1]))
	}
	return strings.Join(s, ", ")
}

func wideNote(rs []result) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprintf("%d for %d", r.Wide.MaxUnavailable, r.N))
	}
	return strings.Join(s, ", ")
}

// printStatus says where the time of `hellomgr status` goes, from the
// medians of runs that each measure one part: a difference of medians is
// an estimate, not a measurement, and on a busy machine it can even come
// out below zero.
func printStatus(w io.Writer, rs []result) {
	fmt.Fprintf(w, "\n### Where `hellomgr status` goes (p50, ms)\n\n")
	row(w, "instances", []string{"status", "any Go process (empty program)", "hellomgr's own start (`version` − empty)",
		"control socket request (in-process)", "the rest: config, decode, table", "status, readings expired", "`version` after the same pause"})
	row(w, "---", repeat("---:", 7))
	for _, r := range rs {
		st, floor, start, sock := r.Status.Median, r.Floor.Median, r.Version.Median-r.Floor.Median, r.StatusSocket.Median
		row(w, fmt.Sprint(r.N), []string{ms(st), ms(floor), ms(start), ms(sock), ms(st - r.Version.Median - sock), ms(r.StatusCold.Median), ms(r.VersionCold.Median)})
	}
	fmt.Fprintf(w, "\nThe parts are differences of medians (status, `version` and the empty program run in turn): estimates, which the noise of a busy machine can take below zero.\n")
	fmt.Fprintf(w, "Back-to-back runs find the manager's /proc readings at most a second old (proc.CacheInterval); a status run now and then finds them expired, and the manager reads every instance's /proc first.\n")
}

func ms(v float64) string { return fmt.Sprintf("%.2f", v) }

// printReloads compares each reload's `hellomgr reload` wall time with the
// manager's own timing, and says where the CLI failed.
func printReloads(w io.Writer, rs []result) {
	fmt.Fprintf(w, "\n### Reloads: `hellomgr reload` wall time and the manager's own timing\n\n")
	row(w, "instances", []string{"max_unavailable", "`hellomgr reload` (s)", "manager (s)", "CLI error"})
	row(w, "---", []string{"---:", "---:", "---:", "---"})
	var cut bool
	for _, r := range rs {
		for _, rr := range []reloadResult{r.Reload, r.Wide} {
			row(w, fmt.Sprint(r.N), []string{fmt.Sprint(rr.MaxUnavailable), fmt.Sprintf("%.3f", rr.CLISeconds),
				fmt.Sprintf("%.3f", rr.ManagerSeconds), strings.ReplaceAll(rr.CLIError, "|", "\\|")})
			cut = cut || rr.CLIError != ""
		}
	}
	if cut {
		fmt.Fprintf(w, "\n† `hellomgr reload` failed although the rollout went on and succeeded in the manager; the figure in the main table is then the manager's own hellomgr_rollout_last_duration_seconds.\n")
	}
}

// printMemory says where the manager's memory goes, from /proc and from
// the Go runtime's own figures on its /metrics.
func printMemory(w io.Writer, rs []result) {
	kib := func(b float64) string { return fmt.Sprintf("%.0f", b/1024) }
	fmt.Fprintf(w, "\n### Manager memory after the idle window (KiB unless said)\n\n")
	row(w, "instances", []string{"RSS", "anon", "file", "heap in use", "heap idle", "stacks", "Go sys", "goroutines", "threads", "fds", "instance RSS (median)"})
	row(w, "---", repeat("---:", 11))
	for _, r := range rs {
		m, rt := r.MemIdle, r.RuntimeIdle
		row(w, fmt.Sprint(r.N), []string{
			kib(float64(m.RSS)), kib(float64(m.Anon)), kib(float64(m.File)),
			kib(rt["go_memstats_heap_inuse_bytes"]), kib(rt["go_memstats_heap_idle_bytes"] - rt["go_memstats_heap_released_bytes"]),
			kib(rt["go_memstats_stack_inuse_bytes"]), kib(rt["go_memstats_sys_bytes"]),
			fmt.Sprint(rt["go_goroutines"]), fmt.Sprint(m.Threads), fmt.Sprint(m.FDs), kib(float64(r.InstanceRSS)),
		})
	}
	if len(rs) > 1 {
		a, b := rs[0], rs[len(rs)-1]
		n := float64(b.N - a.N)
		fmt.Fprintf(w, "\nPer added instance: %.1f KiB RSS, %.1f KiB heap, %.1f KiB stacks, %.1f goroutines, %.1f fds.\n",
			float64(b.MemIdle.RSS-a.MemIdle.RSS)/1024/n,
			(b.RuntimeIdle["go_memstats_heap_inuse_bytes"]-a.RuntimeIdle["go_memstats_heap_inuse_bytes"])/1024/n,
			(b.RuntimeIdle["go_memstats_stack_inuse_bytes"]-a.RuntimeIdle["go_memstats_stack_inuse_bytes"])/1024/n,
			(b.RuntimeIdle["go_goroutines"]-a.RuntimeIdle["go_goroutines"])/n,
			float64(b.MemIdle.FDs-a.MemIdle.FDs)/n)
	}
}

// printTargets checks the figures against the targets of the issue
// ("hellomgr's own code paths close to the limit").
func printTargets(w io.Writer, rs []result, cols []column) {
	last := rs[len(rs)-1]
	fmt.Fprintf(w, "\n### Targets\n\n")
	if r, ok := size(rs, 256); ok {
		target(w, "/probe at 256: at most 0.3 ms of manager CPU per instance", r.ProbeCPU <= 0.3, fmt.Sprintf("%.3f ms", r.ProbeCPU))
		target(w, "`hellomgr status` p50 under 10 ms at 256, run back to back", r.Status.Median < 10,
			fmt.Sprintf("p50 %.1f ms, p95 %.1f ms, of which start-up (`hellomgr version`) %.1f ms and any Go process %.1f ms; manager CPU %.2f ms per status",
				r.Status.Median, r.Status.P95, r.Version.Median, r.Floor.Median, r.StatusCPU))
		target(w, "`hellomgr status` p50 under 10 ms at 256, now and then (the manager's /proc readings expired)", r.StatusCold.Median < 10,
			fmt.Sprintf("p50 %.1f ms, p95 %.1f ms, of which start-up after the same pause (`hellomgr version`) %.1f ms; manager CPU %.2f ms per status",
				r.StatusCold.Median, r.StatusCold.P95, r.VersionCold.Median, r.StatusColdCPU))
	}
	for _, r := range rs {
		target(w, fmt.Sprintf("manager /metrics under 1 ms CPU per scrape (%d instances)", r.N), r.MetricsCPU < 1, fmt.Sprintf("%.3f ms", r.MetricsCPU))
	}
	if last.N >= 1024 {
		target(w, fmt.Sprintf("%d instances all ready under 10 s", last.N), last.ReadySeconds < 10, fmt.Sprintf("%.2f s", last.ReadySeconds))
		rss := max(last.MemAfterUp.RSS, last.MemIdle.RSS)
		target(w, fmt.Sprintf("manager RSS under 60 MB with %d (the larger of after up and after idle)", last.N), rss < 60e6,
			fmt.Sprintf("%.1f MB after up, %.1f MB after idle, peak %.1f MB (VmHWM: the whole run, reloads included)", float64(last.MemAfterUp.RSS)/1e6, float64(last.MemIdle.RSS)/1e6, float64(last.MemAtEnd.Peak)/1e6))
		target(w, fmt.Sprintf("manager idle CPU under 0.5%% of a core with %d", last.N), last.IdleCPU < 0.005, fmt.Sprintf("%.3f%%", 100*last.IdleCPU))
	}
	if from, ok := fromSize(rs, 64); ok {
		var worse []string
		for i, kind := range growthKinds(cols, from, last) {
			if strings.HasPrefix(kind, "WORSE") {
				worse = append(worse, cols[i].head+" "+kind)
			}
		}
		target(w, fmt.Sprintf("per-instance costs flat from %d to %d (no figure grows faster than linearly: growth exponent k at most 1.15)", from.N, last.N),
			len(worse) == 0, "worse: "+strings.Join(append(worse, "none")[:max(1, len(worse))], ", "))
	}
}

// size is the result for n instances.
func size(rs []result, n int) (result, bool) {
	for _, r := range rs {
		if r.N == n {
			return r, true
		}
	}
	return result{}, false
}

// superLinear names the columns that grew faster than the instance count.
func superLinear(cols []column, first, last result) []string {
	var worse []string
	for _, c := range cols {
		a, b := c.get(first), c.get(last)
		if a > 0 && b/a > float64(last.N)/float64(first.N) {
			worse = append(worse, c.head)
		}
	}
	if len(worse) == 0 {
		worse = []string{"none"}
	}
	return worse
}

func target(w io.Writer, what string, ok bool, got string) {
	mark := "met"
	if !ok {
		mark = "NOT met"
	}
	fmt.Fprintf(w, "- %s: %s (%s)\n", what, mark, got)
}

func heads(cols []column) []string {
	var s []string
	for _, c := range cols {
		s = append(s, c.head)
	}
	return s
}

func values(cols []column, r result) []string {
	var s []string
	for _, c := range cols {
		v := fmt.Sprintf("%.3g", c.get(r))
		if c.mark != nil && c.mark(r) {
			v += " †"
		}
		s = append(s, v)
	}
	return s
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func row(w io.Writer, first string, cells []string) {
	fmt.Fprintf(w, "| %s | %s |\n", first, strings.Join(cells, " | "))
}
