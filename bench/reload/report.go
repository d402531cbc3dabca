package main

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// result is one wrk run across one or more reloads: one cell of the
// matrix.
type result struct {
	App             string `json:"app"`
	Front           string `json:"front"`
	Method          string `json:"method"`
	ClientKeepAlive bool   `json:"client_keepalive"`
	// ServedStatus is the status that counts as served (405 for POST to
	// the built-in server, by design).
	ServedStatus int `json:"served_status"`
	// Requests is every request wrk sent or tried to: responses plus
	// connect, read and write errors. MinRequests is what the run asked
	// for (-min-requests).
	Requests    int `json:"requests"`
	MinRequests int `json:"min_requests"`
	Served      int `json:"served"`
	// Failed is every response with another status, plus every connect,
	// read and write error.
	Failed       int                   `json:"failed"`
	Statuses     map[string]int        `json:"statuses"`
	SocketErrors benchkit.SocketErrors `json:"socket_errors"`
	// Seconds is wrk's own measure of the run's length.
	Seconds float64 `json:"seconds"`

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

	// NginxPrinted is what `hellomgr nginx` printed for the deployment's
	// config, which its nginx runs.
	NginxPrinted string `json:"nginx_printed"`
}

// reloadRun is one `hellomgr reload`.
type reloadRun struct {
	Version int      `json:"version"`
	Seconds float64  `json:"seconds"`
	StartMs int64    `json:"start_ms"`
	EndMs   int64    `json:"end_ms"`
	Error   string   `json:"error,omitempty"`
	Output  []string `json:"output"`
	// PIDs is each port's pid after the reload; EveryPIDReplaced says
	// whether none is one from before it.
	PIDs             map[int]int `json:"pids_after"`
	EveryPIDReplaced bool        `json:"every_pid_replaced"`
	start, end       time.Time
}

// everyPIDReplaced is true when each reload of r replaced every pid.
func (r result) everyPIDReplaced() bool {
	for _, rr := range r.Reloads {
		if !rr.EveryPIDReplaced {
			return false
		}
	}
	return len(r.Reloads) > 0
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
	r.Seconds = s.Seconds
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

// labels are the app's and the front's names in the table.
func labels(r result) (string, string) {
	appLabel, frontLabel := r.App, r.Front
	if a, ok := findApp(r.App); ok {
		appLabel = a.label
	}
	for _, f := range fronts {
		if f.name == r.Front {
			frontLabel = f.label
		}
	}
	return appLabel, frontLabel
}

// report puts the matrix, how it was measured and the details in r.
func report(r *benchkit.Report, b *bench, results []result, notRun []string) {
	t := benchkit.Table{Columns: []string{"app", "front", "method", "client keep-alive", "requests", "failed", "slowest reload"}}
	d := benchkit.Table{Columns: []string{"app", "front", "method", "client keep-alive", "served", "other statuses",
		"socket errors (connect/read/write/timeout)", "wrk run", "req/s before", "req/s during reloads", "during / before",
		"quiet windows, 10th pct", "every pid replaced", "new code served"}}
	for _, c := range results {
		appLabel, frontLabel := labels(c)
		requests := thousands(c.Requests)
		if c.Requests < c.MinRequests {
			requests += fmt.Sprintf(" (< %s)", thousands(c.MinRequests))
		}
		slowest := fmt.Sprintf("%.2f s", c.ReloadSeconds)
		if n := failedReloads(c); n > 0 {
			slowest += fmt.Sprintf(" (%d of %d reloads failed)", n, len(c.Reloads))
		}
		t.Rows = append(t.Rows, []string{appLabel, frontLabel, c.Method, yesNo(c.ClientKeepAlive), requests, failedText(c), slowest})
		e, quiet := c.SocketErrors, "n/a"
		if c.QuietP10 != nil {
			quiet = fmt.Sprintf("%.0f%%", 100**c.QuietP10)
		}
		d.Rows = append(d.Rows, []string{c.App, c.Front, c.Method, yesNo(c.ClientKeepAlive), strconv.Itoa(c.Served), otherStatuses(c),
			fmt.Sprintf("%d/%d/%d/%d", e.Connect, e.Read, e.Write, e.Timeout), fmt.Sprintf("%.1f s", c.Seconds),
			fmt.Sprintf("%.0f", c.BeforeRPS), fmt.Sprintf("%.0f", c.DuringRPS), fmt.Sprintf("%.0f%%", 100*c.DuringRatio), quiet,
			yesNo(c.everyPIDReplaced()), yesNo(c.NewCodeServed)})
	}
	r.Tables = append(r.Tables, t, d)
	o := b.opts
	r.Notes = append(r.Notes, fmt.Sprintf("%d cells in %s; 4 instances per app behind nginx (deploy/nginx.conf, with the http part and location "+
		"`hellomgr nginx` prints), wrk with %d threads and %d connections, each cell %d reloads from %s on, at least %s and %s requests long. "+
		"The built-in server answers POST with 405 by design, counted as served. Quiet windows: with no reload, 10%% of the windows as long "+
		"as a reload, taken before the first one, served less than this share of the mean: the machine's own noise, for scale.",
		len(results), time.Since(b.began).Round(time.Second), o.threads, o.connections, o.reloads, o.duration*3/10, o.duration, thousands(o.minRequests)))
	for _, n := range notRun {
		r.Notes = append(r.Notes, "Not run: "+n)
	}
	r.Raw = map[string]any{"results": results, "not_run": notRun}
}

// failedText is the failed count and what the failures were: statuses
// other than the served one (a 502 is nginx's), and the socket errors wrk
// saw (a read error is a connection closed under a request).
func failedText(r result) string {
	if r.Failed == 0 {
		return "0"
	}
	var kinds []string
	for _, code := range slices.Sorted(maps.Keys(r.Statuses)) {
		if n := r.Statuses[code]; code != strconv.Itoa(r.ServedStatus) && n > 0 {
			kinds = append(kinds, fmt.Sprintf("%s × %s", thousands(n), code))
		}
	}
	e := r.SocketErrors
	for _, k := range []struct {
		n    int
		name string
	}{{e.Connect, "connect errors"}, {e.Read, "read errors"}, {e.Write, "write errors"}} {
		if k.n > 0 {
			kinds = append(kinds, thousands(k.n)+" "+k.name)
		}
	}
	if len(kinds) == 1 { // "7 (read errors)", "5 (502)"
		_, kind, _ := strings.Cut(kinds[0], " ")
		kind = strings.TrimPrefix(kind, "× ")
		return fmt.Sprintf("%s (%s)", thousands(r.Failed), kind)
	}
	return fmt.Sprintf("%s (%s)", thousands(r.Failed), strings.Join(kinds, ", "))
}

// otherStatuses lists the statuses other than the served one, or "".
func otherStatuses(r result) string {
	var s []string
	for _, code := range slices.Sorted(maps.Keys(r.Statuses)) {
		if code != strconv.Itoa(r.ServedStatus) {
			s = append(s, fmt.Sprintf("%s: %d", code, r.Statuses[code]))
		}
	}
	return strings.Join(s, ", ")
}

func failedReloads(r result) int {
	n := 0
	for _, rr := range r.Reloads {
		if rr.Error != "" {
			n++
		}
	}
	return n
}

// thousands writes n with commas, as the README's tables do.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
