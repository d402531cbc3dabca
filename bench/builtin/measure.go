package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
	"github.com/hellomgr/hellomgr/proc"
)

// wrkRun is one measured wrk run against one server.
type wrkRun struct {
	server string // "built-in" or "plain"
	stats  benchkit.WrkStats
	cpu    float64 // seconds of CPU the server used during the run
}

func (r wrkRun) perSecond() float64 { return r.stats.PerSecond() }

// cpuPerRequest is the server's CPU time per request, in seconds.
func (r wrkRun) cpuPerRequest() float64 { return r.cpu / float64(max(1, r.stats.Responses)) }

// measure warms s up, then runs wrk on it (one thread, on CPU 1 when
// pinned) while counting the CPU time s uses.
func measure(ctx context.Context, dir string, s *server, o options) (wrkRun, error) {
	c := benchkit.WrkConfig{URL: "http://127.0.0.1:" + strconv.Itoa(s.port) + "/", Connections: o.connections,
		Duration: o.warmup, Dir: dir}
	if o.pin {
		c.Pin = "1"
	}
	if o.warmup >= time.Second {
		if _, err := benchkit.RunWrk(ctx, c); err != nil {
			return wrkRun{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	before, err := proc.Read(s.child.PID())
	if err != nil {
		return wrkRun{}, err
	}
	c.Duration = o.duration
	st, err := benchkit.RunWrk(ctx, c)
	if err != nil {
		return wrkRun{}, err
	}
	after, err := proc.Read(s.child.PID())
	if err != nil {
		return wrkRun{}, err
	}
	r := wrkRun{server: s.name, stats: st, cpu: after.CPUSeconds - before.CPUSeconds}
	if n := st.Errors.Sum() + st.Errors.Status + st.Errors.Timeout; n > 0 || st.Responses == 0 {
		return r, fmt.Errorf("%s: %d errors and %d responses in wrk's run", s.name, n, st.Responses)
	}
	return r, nil
}
