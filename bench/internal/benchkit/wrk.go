package benchkit

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The wrk script prints the summary in lines ParseWrk reads. With a
// served status, it also counts every response by status, and served ones
// (the status the app answers by design) by 10 ms of wall clock
// (CLOCK_REALTIME, read through LuaJIT's ffi, as Go's time.Now is), so that
// throughput before a change and during it can be told apart. Without
// one, it defines no response callback: Lua run for every response slows
// wrk down, which a throughput bench must not measure.
// wrk builds the request once from wrk.method, wrk.body and wrk.headers.
const wrkScript = `-- written by bench/internal/benchkit
wrk.method = %q
%s
`

const wrkCounting = `local served = %d
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } hm_timespec;
int clock_gettime(int clk, hm_timespec *tp);
]]
local ts = ffi.new("hm_timespec")

buckets, statuses = {}, {}

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= served then return end
  ffi.C.clock_gettime(0, ts)
  local b = tonumber(ts.tv_sec) * 100 + math.floor(tonumber(ts.tv_nsec) / 10000000)
  buckets[b] = (buckets[b] or 0) + 1
end
`

const wrkDone = `local threads = {}
function setup(thread) table.insert(threads, thread) end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("summary %d %d %d %d %d %.0f %.0f %d %.0f %.0f\n", summary.requests,
    e.connect, e.read, e.write, e.timeout, latency:percentile(99), latency.max, e.status,
    latency.mean, latency:percentile(50)))
  io.write(string.format("duration %d\n", summary.duration))
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses") or {}) do io.write(string.format("status %d %d\n", k, v)) end
    for k, v in pairs(t:get("buckets") or {}) do io.write(string.format("bucket %.0f %d\n", k, v)) end
  end
end
`

// WrkConfig is one wrk run. The zero value of each field but URL and
// Duration is a sensible default.
type WrkConfig struct {
	URL    string
	Method string // GET (""), or POST with a small form body
	// KeepAlive false sends `Connection: close` with every request, so
	// the server closes the connection after each response and wrk opens
	// a new one.
	KeepAlive bool
	// Served is the status counted by 10 ms (WrkStats.Buckets), with every
	// response counted by status; 0 counts nothing per response, for
	// full speed.
	Served      int
	Duration    time.Duration // rounded down to whole seconds, at least 1
	Threads     int           // 0: 1
	Connections int           // 0: 32
	Pin         string        // CPUs wrk runs on (taskset -c), "": any
	Dir         string        // where the script is written, as bench.lua; "": a temporary folder
}

// requestLines sets the method's body and headers.
func (c WrkConfig) requestLines() string {
	var s []string
	if c.Method == "POST" {
		s = append(s, `wrk.body = "name=hellomgr"`, `wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"`)
	}
	if !c.KeepAlive {
		s = append(s, `wrk.headers["Connection"] = "close"`)
	}
	return strings.Join(s, "\n")
}

// script is the Lua script for c.
func (c WrkConfig) script() string {
	text := fmt.Sprintf(wrkScript, cmp.Or(c.Method, "GET"), c.requestLines())
	if c.Served != 0 {
		text += fmt.Sprintf(wrkCounting, c.Served)
	}
	return text + wrkDone
}

// argv is wrk's command line, with the script at script.
func (c WrkConfig) argv(script string) []string {
	argv := []string{Wrk.Path, "-t", strconv.Itoa(max(1, c.Threads)), "-c", strconv.Itoa(cmp.Or(c.Connections, 32)),
		"-d", fmt.Sprintf("%ds", max(1, int(c.Duration.Seconds()))), "--timeout", "10s", "-s", script, c.URL}
	if c.Pin != "" {
		argv = append([]string{"/usr/bin/taskset", "-c", c.Pin}, argv...)
	}
	return argv
}

// SocketErrors are wrk's counts of failed connects, reads and writes, of
// responses slower than its timeout (10 s), and of responses with a
// status of 400 or more.
type SocketErrors struct {
	Connect, Read, Write, Timeout int
	Status                        int
}

// Sum is the requests lost to a socket error: connects, reads and writes
// (a timed-out response was still counted as a response).
func (e SocketErrors) Sum() int { return e.Connect + e.Read + e.Write }

// WrkStats is what one wrk run saw.
type WrkStats struct {
	Responses int // with any status
	Errors    SocketErrors
	Statuses  map[int]int   // with WrkConfig.Served only
	Buckets   map[int64]int // served responses per 10 ms: unix milliseconds / 10; with Served only
	Seconds   float64       // wrk's own measure of the run's length
	// Latency, in milliseconds.
	MeanMs, P50Ms, P99Ms, MaxMs float64
	Output                      string // wrk's own report
	Command                     string // wrk's command line, as run
}

// PerSecond is responses per second over the run.
func (s WrkStats) PerSecond() float64 {
	if s.Seconds <= 0 {
		return 0
	}
	return float64(s.Responses) / s.Seconds
}

// WrkRun is a wrk run in the background.
type WrkRun struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	argv []string
	tmp  string // the script's folder, when made for the run
}

// RunWrk runs wrk as c says and returns what it saw.
func RunWrk(ctx context.Context, c WrkConfig) (WrkStats, error) {
	w, err := StartWrk(ctx, c)
	if err != nil {
		return WrkStats{}, err
	}
	return w.Wait()
}

// StartWrk starts wrk as c says, in the background, in a session of its
// own (a scheduling group of its own, see StartChild). The context
// bounds it, besides its duration.
func StartWrk(ctx context.Context, c WrkConfig) (*WrkRun, error) {
	w := &WrkRun{}
	if c.Dir == "" {
		dir, err := os.MkdirTemp("", "hmwrk")
		if err != nil {
			return nil, err
		}
		c.Dir, w.tmp = dir, dir
	}
	script := filepath.Join(c.Dir, "bench.lua")
	if err := os.WriteFile(script, []byte(c.script()), 0o644); err != nil {
		return nil, err
	}
	w.argv = c.argv(script)
	w.cmd = exec.CommandContext(ctx, w.argv[0], w.argv[1:]...)
	w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.out
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	w.cmd.WaitDelay = 5 * time.Second
	if err := w.cmd.Start(); err != nil {
		w.removeTmp()
		return nil, fmt.Errorf("start wrk: %w", err)
	}
	return w, nil
}

func (w *WrkRun) removeTmp() {
	if w.tmp != "" {
		os.RemoveAll(w.tmp)
	}
}

// Interrupt ends the run early: wrk stops sending on SIGINT and reports
// as it does at the end of its duration.
func (w *WrkRun) Interrupt() { w.cmd.Process.Signal(syscall.SIGINT) }

// Wait waits for wrk to end (bounded: its duration, or the context) and
// parses what its script printed.
func (w *WrkRun) Wait() (WrkStats, error) {
	defer w.removeTmp()
	if err := w.cmd.Wait(); err != nil {
		return WrkStats{}, fmt.Errorf("wrk: %w\n%s", err, w.out.String())
	}
	s, err := ParseWrk(w.out.String())
	s.Command = strings.Join(w.argv, " ")
	return s, err
}

// ParseWrk reads what the script printed at the end of a run; the other
// lines, wrk's own report, go to Output.
func ParseWrk(out string) (WrkStats, error) {
	s := WrkStats{Statuses: map[int]int{}, Buckets: map[int64]int{}}
	sc := bufio.NewScanner(strings.NewReader(out))
	var human []string
	found := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		n := make([]int64, len(f))
		for i := 1; i < len(f); i++ {
			n[i], _ = strconv.ParseInt(f[i], 10, 64)
		}
		switch {
		case len(f) == 11 && f[0] == "summary":
			found = true
			s.Responses = int(n[1])
			s.Errors = SocketErrors{int(n[2]), int(n[3]), int(n[4]), int(n[5]), int(n[8])}
			s.P99Ms, s.MaxMs = float64(n[6])/1000, float64(n[7])/1000
			s.MeanMs, s.P50Ms = float64(n[9])/1000, float64(n[10])/1000
		case len(f) == 2 && f[0] == "duration":
			s.Seconds = float64(n[1]) / 1e6
		case len(f) == 3 && f[0] == "status":
			s.Statuses[int(n[1])] += int(n[2])
		case len(f) == 3 && f[0] == "bucket":
			s.Buckets[n[1]] += int(n[2])
		default:
			human = append(human, sc.Text())
		}
	}
	s.Output = strings.Join(human, "\n")
	if !found {
		return s, fmt.Errorf("wrk printed no summary:\n%s", out)
	}
	return s, nil
}

// Span is the first and last 10 ms bucket with a served response; false
// when there is none.
func (s WrkStats) Span() (first, last int64, ok bool) {
	if len(s.Buckets) == 0 {
		return 0, 0, false
	}
	keys := slices.Sorted(maps.Keys(s.Buckets))
	return keys[0], keys[len(keys)-1], true
}

// Bucket is t's 10 ms bucket, as the wrk script numbers them.
func Bucket(t time.Time) int64 { return t.UnixMilli() / 10 }

// Rate is served responses per second over the 10 ms buckets from..to,
// both included; 0 when to is before from.
func Rate(b map[int64]int, from, to int64) float64 {
	if to < from {
		return 0
	}
	n := 0
	for k := from; k <= to; k++ {
		n += b[k]
	}
	return float64(n) / (float64(to-from+1) / 100)
}
