package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/proc"
)

const wrkPath = "/usr/bin/wrk"

// wrkScript prints wrk's summary in one line the bench reads. It defines
// done only: a response callback would run Lua for every response and
// slow wrk down.
const wrkScript = `-- written by bench/builtin
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("hm-summary %d %d %d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout))
end
`

// run is one measured wrk run against one server.
type wrkRun struct {
	server   string // "built-in" or "plain"
	requests int
	duration time.Duration
	errors   int
	cpu      float64 // seconds of CPU the server used during the run
}

func (r wrkRun) perSecond() float64 { return float64(r.requests) / r.duration.Seconds() }

// cpuPerRequest is the server's CPU time per request, in seconds.
func (r wrkRun) cpuPerRequest() float64 { return r.cpu / float64(r.requests) }

// wrkArgv is wrk's command line for a run of d against port.
func wrkArgv(o options, script string, d time.Duration, port int) []string {
	return []string{wrkPath, "-t1", "-c" + strconv.Itoa(o.connections), "-d" + strconv.Itoa(int(d.Seconds())) + "s",
		"-s", script, "http://127.0.0.1:" + strconv.Itoa(port) + "/"}
}

// measure warms s up, then runs wrk on it while counting the CPU time s
// uses.
func measure(ctx context.Context, dir string, s *server, o options) (wrkRun, error) {
	script := filepath.Join(dir, "summary.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		return wrkRun{}, err
	}
	if o.warmup >= time.Second {
		if _, err := capture(ctx, wrkArgv(o, script, o.warmup, s.port), o.pin); err != nil {
			return wrkRun{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	before, err := proc.Read(s.child.PID())
	if err != nil {
		return wrkRun{}, err
	}
	out, err := capture(ctx, wrkArgv(o, script, o.duration, s.port), o.pin)
	if err != nil {
		return wrkRun{}, err
	}
	after, err := proc.Read(s.child.PID())
	if err != nil {
		return wrkRun{}, err
	}
	r, err := parseSummary(out)
	r.server, r.cpu = s.name, after.CPUSeconds-before.CPUSeconds
	if err == nil && r.errors > 0 {
		err = fmt.Errorf("%s: %d errors in wrk's run", s.name, r.errors)
	}
	return r, err
}

var summaryLine = regexp.MustCompile(`(?m)^hm-summary (\d+) (\d+) (\d+)$`)

func parseSummary(out string) (wrkRun, error) {
	m := summaryLine.FindStringSubmatch(out)
	if m == nil {
		return wrkRun{}, fmt.Errorf("no summary in wrk's output:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	us, _ := strconv.Atoi(m[2])
	errs, _ := strconv.Atoi(m[3])
	if n == 0 || us == 0 {
		return wrkRun{}, fmt.Errorf("wrk served nothing: %s", strings.TrimSpace(m[0]))
	}
	return wrkRun{requests: n, duration: time.Duration(us) * time.Microsecond, errors: errs}, nil
}
