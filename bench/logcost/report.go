package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// totals sums one side's runs.
type totals struct {
	served, failed, lines, switches int
	seconds, cpu                    float64
}

func sum(runs []loadRun, name string) totals {
	var t totals
	for _, r := range runs {
		if r.Side != name {
			continue
		}
		t.served += r.Served
		t.failed += r.Failed
		t.lines += r.Lines
		t.seconds += r.Seconds
		t.cpu += r.CPUSeconds
		t.switches += r.Switches
	}
	return t
}

// report puts the runs, the totals and the targets in r.
func report(r *benchkit.Report, o options, runs []loadRun, quiet, loaded []time.Duration) {
	t := benchkit.Table{Columns: []string{"round", "side", "load average", "req/s through nginx", "failed", "lines logged/s",
		"manager CPU", "manager wakeups per 10,000 lines"}}
	for _, run := range runs {
		cpu, wake := "—", "—"
		if run.CPUPercent >= 0 {
			cpu = fmt.Sprintf("%.2f%% of a core", run.CPUPercent)
			wake = strconv.Itoa(run.Switches * 10000 / max(1, run.Lines))
		}
		t.Rows = append(t.Rows, []string{strconv.Itoa(run.Round), run.Side, run.LoadAvg, fmt.Sprintf("%.0f", run.RPS),
			strconv.Itoa(run.Failed), fmt.Sprintf("%.0f", run.LinesPerS), cpu, wake})
	}
	hand, mgr := sum(runs, "by hand"), sum(runs, "hellomgr")
	ratio := (float64(mgr.served) / mgr.seconds) / (float64(hand.served) / hand.seconds)
	cpu := 100 * mgr.cpu / mgr.seconds
	perLines := mgr.switches * 10000 / max(1, mgr.lines)
	t.Rows = append(t.Rows, []string{"all", "hellomgr / by hand", "", fmt.Sprintf("%.3f", ratio),
		fmt.Sprintf("%d / %d", mgr.failed, hand.failed), fmt.Sprintf("%.0f / %.0f", float64(mgr.lines)/mgr.seconds,
			float64(hand.lines)/hand.seconds), fmt.Sprintf("%.2f%% of a core", cpu), strconv.Itoa(perLines)})
	r.Tables = append(r.Tables, t)
	f := benchkit.Table{Columns: []string{"`hellomgr logs PORT -f` shows a line", "requests", "median", "max"}}
	for _, l := range []struct {
		name string
		lat  []time.Duration
	}{{"quiet", quiet}, {"under load through nginx", loaded}} {
		f.Rows = append(f.Rows, []string{l.name, strconv.Itoa(len(l.lat)), ms(l.lat[len(l.lat)/2]), ms(l.lat[len(l.lat)-1])})
	}
	r.Tables = append(r.Tables, f)
	r.Notes = append(r.Notes, fmt.Sprintf("examples/tornado/hello.py on 4 ports behind nginx (deploy/nginx.conf), every request logged "+
		"(Tornado's access log). By hand: each process started in a session of its own (setsid), appending its output to its "+
		"file itself. hellomgr: `hellomgr up -d` (handoff, READY=1), logs spliced into files. Both sides run at once, each "+
		"with its own nginx; wrk -t2 -c%d GET keep-alive, %s per side per round, the side that goes first alternating. "+
		"Manager CPU from /proc/PID/stat; wakeups are the manager's voluntary context switches (all threads): one per line "+
		"would be 10,000. logs -f: a marked GET straight to one port, timed from its answer (when Tornado writes its line) until `hellomgr logs PORT -f` prints the line.",
		o.connections, o.load))
	r.Target(cpu <= 1, "manager CPU while 4 Tornado instances log every request (%.0f lines/s): %.2f%% of a core, target at most 1%%",
		float64(mgr.lines)/mgr.seconds, cpu)
	r.Target(ratio >= 0.98, "throughput under hellomgr %.3f of by hand over %d alternating rounds, target at least 0.98", ratio, o.rounds)
	r.Target(mgr.failed == 0 && hand.failed == 0, "failed requests: %d under hellomgr, %d by hand, target 0", mgr.failed, hand.failed)
	r.Target(perLines <= 2500, "manager wakeups %d per 10,000 lines, target at most 2,500 (a batch, not a line)", perLines)
	worst := max(quiet[len(quiet)-1], loaded[len(loaded)-1])
	r.Target(worst <= 100*time.Millisecond, "`logs -f` shows a line within %s of its write at worst, target 100 ms", ms(worst))
	r.Raw = map[string]any{"runs": runs, "follow_quiet_ms": millis(quiet), "follow_loaded_ms": millis(loaded)}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}
