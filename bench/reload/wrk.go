package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The wrk script counts every response by status, and served ones (the
// status the app answers by design) by 10 ms of wall clock
// (CLOCK_REALTIME, read through LuaJIT's ffi, as Go's time.Now is), so that
// throughput before the reload and during it can be told apart.
// wrk builds the request once from wrk.method, wrk.body and wrk.headers.
const wrkScript = `-- written by bench/reload
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
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do io.write(string.format("status %%d %%d\n", k, v)) end
    for k, v in pairs(t:get("buckets")) do io.write(string.format("bucket %%.0f %%d\n", k, v)) end
  end
end
`

// requestLines sets the method's body and headers, and asks nginx to
// close the connection after each response when keepAlive is false.
func requestLines(method string, keepAlive bool) string {
	var s []string
	if method == "POST" {
		s = append(s, `wrk.body = "name=hellomgr"`, `wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"`)
	}
	if !keepAlive {
		s = append(s, `wrk.headers["Connection"] = "close"`)
	}
	return strings.Join(s, "\n")
}

type socketErrors struct {
	Connect, Read, Write, Timeout int
}

// wrkStats is what one wrk run saw.
type wrkStats struct {
	Responses    int // with any status
	Errors       socketErrors
	Statuses     map[int]int
	Buckets      map[int64]int // served responses per 10 ms: unix milliseconds / 10
	P99Ms, MaxMs float64       // latency
	Output       string        // wrk's own report
}

type wrkRun struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

// startWrk runs wrk against url for the configured duration, in the
// background, with its script written to dir; served is the status that
// counts as served.
func startWrk(ctx context.Context, o options, dir, method string, keepAlive bool, served int, url string) (*wrkRun, error) {
	script := filepath.Join(dir, "bench.lua")
	text := fmt.Sprintf(wrkScript, method, requestLines(method, keepAlive), served)
	if err := os.WriteFile(script, []byte(text), 0o644); err != nil {
		return nil, err
	}
	secs := max(1, int(o.duration.Seconds()))
	w := &wrkRun{}
	w.cmd = exec.CommandContext(ctx, "/usr/bin/wrk", "-t", strconv.Itoa(o.threads), "-c", strconv.Itoa(o.connections),
		"-d", fmt.Sprintf("%ds", secs), "--timeout", "10s", "-s", script, url)
	w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.out
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	w.cmd.WaitDelay = 5 * time.Second
	if err := w.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start wrk: %w", err)
	}
	return w, nil
}

// wait waits for wrk to end (bounded: its -d, or the context) and parses
// what its script printed.
func (w *wrkRun) wait() (wrkStats, error) {
	if err := w.cmd.Wait(); err != nil {
		return wrkStats{}, fmt.Errorf("wrk: %w\n%s", err, w.out.String())
	}
	return parseWrk(w.out.String())
}

func parseWrk(out string) (wrkStats, error) {
	s := wrkStats{Statuses: map[int]int{}, Buckets: map[int64]int{}}
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
			s.Errors = socketErrors{int(n[2]), int(n[3]), int(n[4]), int(n[5])}
			s.P99Ms, s.MaxMs = float64(n[6])/1000, float64(n[7])/1000
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
