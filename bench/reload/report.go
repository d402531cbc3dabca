package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// result is one wrk run across one or more reloads.
type result struct {
	App             string `json:"app"`
	Method          string `json:"method"`
	ClientKeepAlive bool   `json:"client_keepalive"`
	// ServedStatus is the status that counts as served (405 for POST to
	// the built-in server, by design).
	ServedStatus int `json:"served_status"`
	// Requests is every request wrk sent or tried to: responses plus
	// connect, read and write errors.
	Requests int `json:"requests"`
	Served   int `json:"served"`
	// Failed is every response with another status, plus every connect,
	// read and write error.
	Failed       int                   `json:"failed"`
	Statuses     map[string]int        `json:"statuses"`
	SocketErrors benchkit.SocketErrors `json:"socket_errors"`

	Reloads []reloadRun `json:"reloads"`
	// ReloadSeconds is the slowest reload's wall time.
	ReloadSeconds float64 `json:"slowest_reload_s"`

	// Served responses per second: from 1 s after wrk started until the
	// first reload; during the reloads (all of them together); from the
	// last reload's end until 1 s before wrk ended.
	BeforeRPS   float64 `json:"before_rps"`
	DuringRPS   float64 `json:"during_rps"`
	AfterRPS    float64 `json:"after_rps"`
	DuringRatio float64 `json:"during_over_before"`
	// QuietP10 is how low throughput goes with no reload at all, for
	// scale: the 10th percentile, over windows as long as the median
	// reload slid across the time before the first one, of their
	// throughput over BeforeRPS.
	// Null when the time before the first reload is too short for 10
	// windows.
	QuietP10 *float64 `json:"quiet_windows_p10_over_before"`
	// Timeline is served responses per 100 ms from wrk's first served
	// response; each reload's StartMs and EndMs are on that clock.
	Timeline []int `json:"timeline_100ms"`

	LatencyP99Ms float64 `json:"latency_p99_ms"`
	LatencyMaxMs float64 `json:"latency_max_ms"`

	NewCode       string         `json:"new_code"`
	NewCodeServed bool           `json:"new_code_served"`
	AnswersAfter  map[string]int `json:"answers_after"`
}

// reloadRun is one `hellomgr reload`.
type reloadRun struct {
	Version    string   `json:"version"`
	Seconds    float64  `json:"seconds"`
	StartMs    int64    `json:"start_ms"`
	EndMs      int64    `json:"end_ms"`
	Error      string   `json:"error,omitempty"`
	Output     []string `json:"output"`
	start, end time.Time
}

// fill sets the counts and throughputs from wrk's figures and the
// reloads' times.
func (r *result) fill(s benchkit.WrkStats) {
	r.Statuses = map[string]int{}
	for code, n := range s.Statuses {
		r.Statuses[strconv.Itoa(code)] = n
	}
	r.SocketErrors = s.Errors
	sockets := s.Errors.Connect + s.Errors.Read + s.Errors.Write
	r.Requests = s.Responses + sockets
	r.Served = s.Statuses[r.ServedStatus]
	r.Failed = s.Responses - r.Served + sockets
	r.LatencyP99Ms, r.LatencyMaxMs = s.P99Ms, s.MaxMs
	var lengths []int64
	for _, rr := range r.Reloads {
		r.ReloadSeconds = max(r.ReloadSeconds, rr.Seconds)
		lengths = append(lengths, benchkit.Bucket(rr.end)-benchkit.Bucket(rr.start)+1)
	}
	if len(s.Buckets) == 0 {
		return
	}
	b := s.Buckets
	keys := slices.Sorted(maps.Keys(b))
	first, last := keys[0], keys[len(keys)-1]
	r.BeforeRPS = benchkit.Rate(b, first+100, benchkit.Bucket(r.Reloads[0].start)-1)
	var during, span int64
	for i := range r.Reloads {
		rr := &r.Reloads[i]
		from, to := benchkit.Bucket(rr.start), benchkit.Bucket(rr.end)
		for k := from; k <= to; k++ {
			during += int64(b[k])
		}
		span += to - from + 1
		rr.StartMs, rr.EndMs = (from-first)*10, (to-first)*10
	}
	r.DuringRPS = float64(during) / (float64(span) / 100)
	r.AfterRPS = benchkit.Rate(b, benchkit.Bucket(r.Reloads[len(r.Reloads)-1].end)+1, last-100)
	if r.BeforeRPS > 0 {
		r.DuringRatio = r.DuringRPS / r.BeforeRPS
		slices.Sort(lengths)
		if q, ok := quietP10(b, first+100, benchkit.Bucket(r.Reloads[0].start)-1, lengths[len(lengths)/2]); ok {
			q /= r.BeforeRPS
			r.QuietP10 = &q
		}
	}
	for k := first; k <= last; k += 10 {
		n := 0
		for i := k; i < k+10; i++ {
			n += b[i]
		}
		r.Timeline = append(r.Timeline, n)
	}
}

// quietP10 is the 10th percentile of the throughput of every window of
// length buckets within from..to; false when there are fewer than 10.
func quietP10(b map[int64]int, from, to, length int64) (float64, bool) {
	var rates []float64
	for k := from; k+length-1 <= to; k++ {
		rates = append(rates, benchkit.Rate(b, k, k+length-1))
	}
	if len(rates) < 10 {
		return 0, false
	}
	slices.Sort(rates)
	return rates[len(rates)/10], true
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printTable(w io.Writer, results []result) {
	fmt.Fprintln(w, "| app | method | client keep-alive | requests | served | failed | socket errors (connect/read/write/timeout) | reloads | reload wall time (slowest) | req/s before | req/s during reloads | during / before | quiet windows, 10th pct | new code served |")
	fmt.Fprintln(w, "| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, r := range results {
		method := r.Method
		if r.ServedStatus != 200 {
			method += fmt.Sprintf(" (%d by design)", r.ServedStatus)
		}
		e := r.SocketErrors
		quiet := "n/a"
		if r.QuietP10 != nil {
			quiet = fmt.Sprintf("%.0f%%", 100**r.QuietP10)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %d | %d/%d/%d/%d | %d | %.2f s | %.0f | %.0f | %.0f%% | %s | %s |\n",
			r.App, method, yesNo(r.ClientKeepAlive), r.Requests, r.Served, r.Failed,
			e.Connect, e.Read, e.Write, e.Timeout, len(r.Reloads), r.ReloadSeconds,
			r.BeforeRPS, r.DuringRPS, 100*r.DuringRatio, quiet, yesNo(r.NewCodeServed))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Quiet windows: with no reload, 10% of the windows as long as a reload, taken before the first one, served less than this share of the mean: the machine's own noise, for scale.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Targets: 0 failed out of at least 50,000; throughput during the reload above 70% of before; built-in reload under 2 s.")
	for _, r := range results {
		fmt.Fprintf(w, "- %s %s, client keep-alive %s: %s\n", r.App, r.Method, yesNo(r.ClientKeepAlive), strings.Join(targets(r), "; "))
	}
}

func targets(r result) []string {
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	t := []string{
		fmt.Sprintf("%d failed of %d: %s", r.Failed, r.Requests, mark(r.Failed == 0 && r.Requests >= 50000)),
		fmt.Sprintf("during/before %.0f%%: %s", 100*r.DuringRatio, mark(r.DuringRatio > 0.7)),
	}
	if r.App == "built-in" {
		t = append(t, fmt.Sprintf("reload %.2f s: %s", r.ReloadSeconds, mark(r.ReloadSeconds < 2)))
	}
	return t
}

// writeJSON writes the raw figures, with what produced them.
func writeJSON(path string, b *bench, results []result) error {
	ngx, _ := exec.Command("/usr/sbin/nginx", "-v").CombinedOutput()
	wrk, _ := exec.Command("/usr/bin/wrk", "-v").CombinedOutput()
	doc := map[string]any{
		"command":        "go run ./bench/reload " + strings.Join(os.Args[1:], " "),
		"date":           time.Now().UTC().Format(time.RFC3339),
		"go":             runtime.Version(),
		"cpus":           runtime.NumCPU(),
		"nginx":          strings.TrimSpace(string(ngx)),
		"wrk":            strings.TrimSpace(strings.SplitN(string(wrk), "\n", 2)[0]),
		"duration_s":     b.opts.duration.Seconds(),
		"connections":    b.opts.connections,
		"threads":        b.opts.threads,
		"reloads":        b.opts.reloads,
		"nginx_config":   "deploy/nginx.conf with temporary paths, a loopback port and access_log off",
		"loadavg_before": b.loadBefore,
		"loadavg_after":  benchkit.LoadAverage(),
		"results":        results,
	}
	text, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(text, '\n'), 0o644)
}
