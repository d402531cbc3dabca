package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// costGrace is how long after a costly fault a failed request is still
// put down to it: the upstream that `hellomgr nginx` prints for a socket
// handoff keeps nginx's defaults (max_fails=1 fail_timeout=10s), so a
// killed instance's reset connections, or a stopped manager's refused
// ones, take a server out of rotation for 10 s, and with every server of
// the upstream out nginx answers 502 until the first comes back.
const costGrace = 11 * time.Second

// result holds the figures of a run.
type result struct {
	Seed            uint64         `json:"seed"`
	Seconds         float64        `json:"seconds"`
	Steps           int            `json:"faults"`
	Requests        int64          `json:"requests"`
	Deaths          int            `json:"manager_deaths"`
	Panics          int            `json:"manager_panics"`
	Violations      int            `json:"invariant_violations"`
	StatusMaxMs     float64        `json:"status_max_ms"`
	FailedPromise0  int            `json:"failed_requests_on_swaps_promising_0"`
	FailedOutside   int            `json:"failed_requests_outside_faults"`
	FailedCostly    int            `json:"failed_requests_in_costly_faults"`
	Leftovers       int            `json:"processes_left_after_down"`
	LinesLost       int            `json:"log_lines_lost"`
	LinesInFull     int            `json:"log_lines_missing_in_disk_full"`
	LinesDropped    uint64         `json:"log_lines_counted_dropped"`
	LinesSeen       int            `json:"log_lines_seen"`
	DiskFullWindows int            `json:"disk_full_windows"`
	FailedByFault   map[string]int `json:"failed_requests_by_fault"`
	GaveUp          int            `json:"ports_failed_after_max_tries"`

	deathList, violationList, panicList, leftList, downErrs, failedCmds []string
	samples                                                             []string
}

// result classifies the failed requests and gathers the figures.
func (r *run) result(sent int64, failures []failure, left, downErrs []string, lines lineCount, fullWindows int) *result {
	res := &result{Seed: r.o.seed, Seconds: time.Since(r.began).Seconds(), Steps: len(r.windows), Requests: sent,
		Deaths: len(r.deaths), Panics: len(r.panics), Violations: len(r.violations) + len(downErrs),
		StatusMaxMs: float64(r.statusMax.Microseconds()) / 1000, Leftovers: len(left),
		LinesLost: lines.lost, LinesInFull: lines.inFull, LinesDropped: r.dropped, LinesSeen: lines.seen,
		DiskFullWindows: fullWindows, FailedByFault: map[string]int{}, GaveUp: r.gaveUp,
		violationList: r.violations, panicList: r.panics, leftList: left, downErrs: downErrs}
	res.LinesLost = res.linesLost(r.o.tornado)
	for _, d := range r.deaths {
		res.deathList = append(res.deathList, fmt.Sprintf("%s after step %d (%s), %d panics in its log", d.target, d.step, d.after, len(d.panics)))
	}
	for _, w := range r.windows {
		if w.failedCmd != "" {
			res.failedCmds = append(res.failedCmds, fmt.Sprintf("step %d %s on %s: %s", w.step, w.kind, w.target, w.failedCmd))
		}
	}
	for _, f := range failures {
		w, costly := r.blame(f)
		key := "none"
		switch {
		case costly:
			res.FailedCostly++
			key = w.kind + " (costly)"
		case w != nil:
			res.FailedPromise0++
			key = w.kind
		default:
			res.FailedOutside++
		}
		res.FailedByFault[key]++
		if !costly && len(res.samples) < 20 {
			step := 0
			if w != nil {
				step = w.step
			}
			res.samples = append(res.samples, fmt.Sprintf("%s %s %s to %s (step %d %s): %s",
				f.began.Format("15:04:05.000"), f.ended.Format("15:04:05.000"), f.method, f.target, step, key, f.err))
		}
	}
	return res
}

// blame finds the fault a failed request is put down to: a manager's
// death on its target (from the fault after which it was found dead to
// costGrace after its restart); else the latest
// costly one on its target whose window, widened by costGrace, it meets,
// before any other; else the earliest fault that promises 0 whose window
// (widened by a second) it meets; else none.
func (r *run) blame(f failure) (*window, bool) {
	for i := range r.deathWindows {
		if w := &r.deathWindows[i]; w.target == f.target && meets(f.began, f.ended, []window{{began: w.began, ended: w.ended.Add(costGrace)}}) {
			return w, true
		}
	}
	var zero *window
	for i := len(r.windows) - 1; i >= 0; i-- { // the latest costly fault first
		w := &r.windows[i]
		if w.costly && w.target == f.target && !f.ended.Before(w.began.Add(-100*time.Millisecond)) && !f.began.After(w.ended.Add(costGrace)) {
			return w, true
		}
		if (w.target == f.target || w.kind == "disk full for the logs") && !f.ended.Before(w.began.Add(-time.Second)) && !f.began.After(w.ended.Add(time.Second)) {
			zero = w
		}
	}
	return zero, false
}

// lineSlack is how many lines per disk-full window and instance may be
// missing beyond those counted dropped: a line cut in two where the disk
// filled (its first part written, its end dropped) is missing and counted.
const lineSlack = 2

// linesLost is the log figure: lines missing outside the windows, plus
// those missing inside them beyond what the manager counted.
func (res *result) linesLost(instances int) int {
	extra := res.LinesInFull - int(res.LinesDropped) - lineSlack*res.DiskFullWindows*instances
	return res.LinesLost + max(0, extra)
}

func (res *result) met() bool {
	return res.Deaths == 0 && res.Panics == 0 && res.Violations == 0 && res.FailedPromise0 == 0 &&
		res.FailedOutside == 0 && res.Leftovers == 0 && res.LinesLost == 0
}

func notMet(n int) string {
	if n == 0 {
		return ""
	}
	return "   NOT met (target 0)"
}

func (res *result) print(w io.Writer, r *run) {
	fmt.Fprintf(w, "\n## chaos: %d faults in %.0f s, seed %d, %d requests, load average %s\n\n", res.Steps, res.Seconds, res.Seed, res.Requests, benchkit.LoadAverage())
	fmt.Fprintf(w, "manager deaths: %d, panics in the manager log: %d%s\n", res.Deaths, res.Panics, notMet(res.Deaths+res.Panics))
	fmt.Fprintf(w, "invariant violations: %d (status answered within %.0f ms at most; bound %s)%s\n", res.Violations, res.StatusMaxMs, statusLimit, notMet(res.Violations))
	fmt.Fprintf(w, "requests failed during swaps that promise 0: %d (and %d outside any fault; %d in faults that may cost requests)%s\n",
		res.FailedPromise0, res.FailedOutside, res.FailedCostly, notMet(res.FailedPromise0+res.FailedOutside))
	fmt.Fprintf(w, "ports that gave up after restart.max_tries kills (then restarted by the run): %d\n", r.gaveUp)
	fmt.Fprintf(w, "processes left after down: %d%s\n", res.Leftovers, notMet(res.Leftovers))
	fmt.Fprintf(w, "log lines lost: %d of %d seen (disk full %d times: %d missing then, %d counted dropped by the manager)%s\n",
		res.LinesLost, res.LinesSeen, res.DiskFullWindows, res.LinesInFull, res.LinesDropped, notMet(res.LinesLost))
	section(w, "manager deaths", res.deathList)
	section(w, "panics", res.panicList)
	section(w, "invariant violations", append(res.violationList, res.downErrs...))
	section(w, "processes left after down", res.leftList)
	section(w, "failed requests by fault", byFault(res.FailedByFault))
	section(w, "failed requests not put down to a costly fault (first 20)", res.samples)
	section(w, "hellomgr commands that failed", res.failedCmds)
	fmt.Fprintf(w, "\nReplay: go -C bench run ./chaos -seed %d -duration %s\n", res.Seed, r.o.duration)
}

func byFault(m map[string]int) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s: %d", k, v))
	}
	sort.Strings(out)
	return out
}

func section(w io.Writer, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s:\n  %s\n", title, strings.Join(lines, "\n  "))
}

// writeJSON writes {"bench":"chaos","figures":{...}} for the figures page.
func (res *result) writeJSON(path string) error {
	b, err := json.MarshalIndent(map[string]any{"bench": "chaos", "figures": res}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// writeDetail writes every fault window and every failed request, in time
// order, with the fault each failure was put down to.
func (r *run) writeDetail(path string, failures []failure, gaps []string) error {
	var b strings.Builder
	for _, g := range gaps {
		b.WriteString(g + "\n")
	}
	for _, w := range r.windows {
		fmt.Fprintf(&b, "%s %s fault #%d %s on %s %s costly=%v%s\n", w.began.Format("15:04:05.000"), w.ended.Format("15:04:05.000"),
			w.step, w.kind, w.target, w.detail, w.costly, failed(w))
	}
	for _, f := range failures {
		w, costly := r.blame(f)
		blamed := "none"
		if w != nil {
			blamed = fmt.Sprintf("#%d %s costly=%v", w.step, w.kind, costly)
		}
		fmt.Fprintf(&b, "%s %s failed %s to %s: %s [%s]\n", f.began.Format("15:04:05.000"), f.ended.Format("15:04:05.000"), f.method, f.target, f.err, blamed)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	sort.Strings(lines)
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}
