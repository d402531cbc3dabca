package main

import (
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// managerResult is everything measured for one manager.
type managerResult struct {
	Manager string `json:"manager"`
	Version string `json:"version"`
	// StartCommand is what was timed: from it to all 4 ports answering.
	StartCommand        string  `json:"start_command"`
	StartSeconds        float64 `json:"start_to_4_ports_answering_s"`
	StartCommandSeconds float64 `json:"start_command_returned_s"`
	// Idle is the manager's own process with nothing sent to the apps;
	// null for the processes started by hand.
	Idle    *benchkit.Usage `json:"idle"`
	Updates []updateResult  `json:"updates"`
}

// updateResult is one code update under wrk load through nginx.
type updateResult struct {
	Update          string `json:"update"`
	Method          string `json:"method"`
	ClientKeepAlive bool   `json:"client_keepalive"`
	// Requests is every request wrk sent or tried to: responses plus
	// connect, read and write errors. Failed is every response other
	// than 200 plus every such error.
	Requests     int                   `json:"requests"`
	Served       int                   `json:"served"`
	Failed       int                   `json:"failed"`
	Statuses     map[string]int        `json:"statuses"`
	SocketErrors benchkit.SocketErrors `json:"socket_errors"`
	// UpdateSeconds runs from the update command until every port
	// answers the new code and nginx serves it again (8 answers in a
	// row); CommandSeconds until the command returned.
	UpdateSeconds  float64 `json:"update_s"`
	CommandSeconds float64 `json:"command_s"`
	// LongestGapMs is the longest time with no 200 through nginx.
	LongestGapMs int64 `json:"longest_gap_ms"`
	// Served per second before the update (from 0.5 s after wrk started)
	// and during it.
	BeforeRPS    float64 `json:"before_rps"`
	DuringRPS    float64 `json:"during_rps"`
	LatencyP99Ms float64 `json:"latency_p99_ms"`
	LatencyMaxMs float64 `json:"latency_max_ms"`
	// Timeline is served responses per 100 ms from wrk's first served
	// response; the update's start and end are on that clock.
	Timeline      []int  `json:"timeline_100ms"`
	UpdateStartMs int64  `json:"update_start_ms"`
	UpdateEndMs   int64  `json:"update_end_ms"`
	NewCode       string `json:"new_code"`
	Error         string `json:"error,omitempty"`
}

// printTable prints one markdown table, a row per manager, update and
// HTTP method, then what the figures mean and the targets.
func printTable(w io.Writer, b *bench) {
	fmt.Fprintln(w, "| manager | code update | method | keep-alive clients: served / failed | update wall time (longest gap) | `Connection: close` clients: served / failed | update wall time (longest gap) | start to 4 ports answering | idle RSS | idle CPU |")
	fmt.Fprintln(w, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, e := range b.entries {
		per := managerCells(e.res)
		rows := groupUpdates(e.res.Updates)
		if len(rows) == 0 {
			fmt.Fprintf(w, "| %s | — | — | — | — | — | — | %s |\n", e.res.Manager, per)
		}
		for i, row := range rows {
			cells := per
			if i > 0 {
				cells = " | | "
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", e.res.Manager, row.update, row.method,
				updateCells(row.byMode[true]), updateCells(row.byMode[false]), cells)
		}
	}
}

// managerCells are the per-manager columns: start, idle memory and CPU.
func managerCells(m *managerResult) string {
	idleRSS, idleCPU := "—", "—"
	if m.Idle != nil {
		idleRSS = fmt.Sprintf("%.1f MiB", mib(m.Idle.RSSMeanBytes))
		idleCPU = fmt.Sprintf("%.2f%%", m.Idle.CPUPercent)
	}
	return fmt.Sprintf("%.2f s | %s | %s", m.StartSeconds, idleRSS, idleCPU)
}

func updateCells(r *updateResult) string {
	switch {
	case r == nil:
		return "— | —"
	case r.Error != "":
		return fmt.Sprintf("%d / %d | failed: see JSON", r.Served, r.Failed)
	}
	return fmt.Sprintf("%d / %d | %.2f s (%.2f s)", r.Served, r.Failed, r.UpdateSeconds, float64(r.LongestGapMs)/1000)
}

type updateRow struct {
	update, method string
	byMode         map[bool]*updateResult // by client keep-alive
}

// groupUpdates puts the client modes of one update and method side by
// side, in the order they ran.
func groupUpdates(us []updateResult) []updateRow {
	var rows []updateRow
	for i := range us {
		u := &us[i]
		if n := len(rows); n > 0 && rows[n-1].update == u.Update && rows[n-1].method == u.Method {
			rows[n-1].byMode[u.ClientKeepAlive] = u
			continue
		}
		rows = append(rows, updateRow{update: u.Update, method: u.Method, byMode: map[bool]*updateResult{u.ClientKeepAlive: u}})
	}
	return rows
}

// printNotes says what the figures are, and whether hellomgr met its
// targets.
func printNotes(w io.Writer, b *bench, elapsed time.Duration) {
	fmt.Fprintf(w, `
Each deployment: examples/tornado/hello.py on 4 ports behind its own nginx (deploy/nginx.conf, the upstream `+"`hellomgr nginx`"+` prints, %s). Updates: wrk %d threads, %d connections, GET or POST (a form), %s before the code changes on disk and %s after every port answers the new code; nginx reloaded before each run so no run inherits an upstream marked failed. Failed = non-200 answers + connect/read/write errors. Update wall time: from the update command until every port answers the new code and nginx serves it again (8 answers in a row); longest gap: the longest time with no 200 through nginx. Start: from the start command to all 4 ports answering GET / (polled every 10 ms). Idle: the manager's own process over %s with nothing sent; CPU in percent of one core. What logging costs is bench/logcost's.
`, b.upstreamNote(), b.o.threads, b.o.connections, b.o.before, b.o.after, b.o.idle)
	fmt.Fprintf(w, "\nMachine: %d cores, load average %s before, %s after (shared: others' work runs too). Bench wall time %s.\n",
		runtime.NumCPU(), b.loadBefore, benchkit.LoadAverage(), elapsed.Round(time.Second))
	fmt.Fprintln(w, "\nTargets (hellomgr):")
	for _, t := range b.targets(elapsed) {
		fmt.Fprintln(w, "- "+t)
	}
}

func (b *bench) upstreamNote() string {
	if b.o.maxFails < 0 {
		return "nginx's default max_fails=1 fail_timeout=10s"
	}
	return fmt.Sprintf("max_fails=%d on each server line except under hellomgr, which writes its own upstream with nginx's default max_fails=1 fail_timeout=10s", b.o.maxFails)
}

func (b *bench) targets(elapsed time.Duration) []string {
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	var t []string
	for _, e := range b.entries {
		if e.res.Manager != "hellomgr" {
			continue
		}
		for _, u := range e.res.Updates {
			t = append(t, fmt.Sprintf("reload %s, client keep-alive %s: %d failed of %d: %s",
				u.Method, yesNo(u.ClientKeepAlive), u.Failed, u.Requests, mark(u.Failed == 0 && u.Error == "")))
		}
	}
	t = append(t, fmt.Sprintf("bench wall time %s (under 10 min): %s", elapsed.Round(time.Second), mark(elapsed < 10*time.Minute)))
	return t
}

// rawFigures are the figures as measured, with what produced them.
func rawFigures(b *bench, elapsed time.Duration) map[string]any {
	var results []*managerResult
	for _, e := range b.entries {
		results = append(results, e.res)
	}
	return map[string]any{
		"go":           runtime.Version(),
		"nginx":        firstLine(benchkit.Nginx.Path, "-v"),
		"wrk":          firstLine(benchkit.Wrk.Path, "-v"),
		"python":       firstLine(benchkit.Tornado.Path, "--version"),
		"tornado":      firstLine(benchkit.Tornado.Path, "-c", "import tornado; print(tornado.version)"),
		"node":         firstLine(node.Path, "--version"),
		"options":      b.o.json(),
		"nginx_config": "deploy/nginx.conf with temporary paths, a loopback port and access_log off; one nginx per deployment",
		"elapsed_s":    elapsed.Seconds(),
		"results":      results,
	}
}

// firstLine is the first line a program prints (to stdout or stderr).
func firstLine(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}
