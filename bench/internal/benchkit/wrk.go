package benchkit

import (
	"bufio"
	"bytes"
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

// The wrk script counts every response by status, and served ones (the
// status the app answers by design) by 10 ms of wall clock
// (CLOCK_REALTIME, read through LuaJIT's ffi, as Go's time.Now is), so that
// throughput before a change and during it can be told apart.
// wrk builds the request once from wrk.method, wrk.body and wrk.headers.
const wrkScript = `-- written by bench/internal/benchkit
wrk.method = %q
%s
local served = %d
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

local threads = {}
function setup(thread) table.insert(threads, thread) end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("summary %%d %%d %%d %%d %%d %%.0f %%.0f\n", summary.requests,
    e.connect, e.read, e.write, e.timeout, latency:percentile(99), latency.max))
  io.write(string.format("duration %%d\n", summary.duration))
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do io.write(string.format("status %%d %%d\n", k, v)) end
    for k, v in pairs(t:get("buckets")) do io.write(string.format("bucket %%.0f %%d\n", k, v)) end
  end
end
`

// WrkConfig is one wrk run through nginx.
type WrkConfig struct {
	URL    string
	Method string // GET, or POST with a small form body
	// KeepAlive false sends `Connection: close` with every request, so
	// nginx closes the connection after each response and wrk opens a new
	// one.
	KeepAlive bool
	// Served is the status that counts as served, by 10 ms.
	Served      int
	Duration    time.Duration // rounded down to whole seconds, at least 1
	Threads     int
	Connections int
	Dir         string // where the script is written, as bench.lua
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

// SocketErrors are wrk's counts of failed connects, reads and writes, and
// of responses slower than its timeout (10 s).
type SocketErrors struct {
	Connect, Read, Write, Timeout int
}

// Sum is the requests lost to a socket error: connects, reads and writes
// (a timed-out response was still counted as a response).
func (e SocketErrors) Sum() int { return e.Connect + e.Read + e.Write }

// WrkStats is what one wrk run saw.
type WrkStats struct {
	Responses    int // with any status
	Errors       SocketErrors
	Statuses     map[int]int
	Buckets      map[int64]int // served responses per 10 ms: unix milliseconds / 10
	Seconds      float64       // wrk's own measure of the run's length
	P99Ms, MaxMs float64       // latency
	Output       string        // wrk's own report
}

// WrkRun is a wrk run in the background.
type WrkRun struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

// StartWrk starts wrk as c says, in the background. The context bounds
// it, besides its duration.
func StartWrk(ctx context.Context, c WrkConfig) (*WrkRun, error) {
	script := filepath.Join(c.Dir, "bench.lua")
	text := fmt.Sprintf(wrkScript, c.Method, c.requestLines(), c.Served)
	if err := os.WriteFile(script, []byte(text), 0o644); err != nil {
		return nil, err
	}
	secs := max(1, int(c.Duration.Seconds()))
	w := &WrkRun{}
	w.cmd = exec.CommandContext(ctx, Wrk.Path, "-t", strconv.Itoa(c.Threads), "-c", strconv.Itoa(c.Connections),
		"-d", fmt.Sprintf("%ds", secs), "--timeout", "10s", "-s", script, c.URL)
	w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.out
	// A session of its own: a scheduling group of its own (see StartChild).
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	w.cmd.WaitDelay = 5 * time.Second
	if err := w.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start wrk: %w", err)
	}
	return w, nil
}

// Interrupt ends the run early: wrk stops sending on SIGINT and reports
// as it does at the end of its duration.
func (w *WrkRun) Interrupt() { w.cmd.Process.Signal(syscall.SIGINT) }

// Wait waits for wrk to end (bounded: its duration, or the context) and
// parses what its script printed.
func (w *WrkRun) Wait() (WrkStats, error) {
	if err := w.cmd.Wait(); err != nil {
		return WrkStats{}, fmt.Errorf("wrk: %w\n%s", err, w.out.String())
	}
	return ParseWrk(w.out.String())
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
		case len(f) == 8 && f[0] == "summary":
			found = true
			s.Responses = int(n[1])
			s.Errors = SocketErrors{int(n[2]), int(n[3]), int(n[4]), int(n[5])}
			s.P99Ms, s.MaxMs = float64(n[6])/1000, float64(n[7])/1000
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
