package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// entry is one manager running its deployment, and what was measured.
type entry struct {
	d   *deployment
	m   manager
	res *managerResult
}

// sleep waits d or until the context ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// timeStart runs the manager's start command and measures the time from
// it to all 4 ports answering GET / (each polled every 10 ms, directly).
func (b *bench) timeStart(ctx context.Context, e *entry) error {
	begin := time.Now()
	done := make(chan error, 1)
	var cmdEnd time.Time
	go func() {
		err := e.m.start(ctx)
		cmdEnd = time.Now()
		done <- err
	}()
	last, err := e.d.waitAnswers(ctx, message(1), time.Minute)
	if cmdErr := <-done; cmdErr != nil {
		return fmt.Errorf("start: %w", cmdErr)
	}
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	e.res.StartSeconds = last.Sub(begin).Seconds()
	e.res.StartCommandSeconds = cmdEnd.Sub(begin).Seconds()
	logf("%s: 4 ports answering %.2fs after the start command (which returned after %.2fs)",
		e.res.Manager, e.res.StartSeconds, e.res.StartCommandSeconds)
	return nil
}

// measureIdle samples every manager's own process at once, over the
// same window, with nothing sent to any deployment.
func (b *bench) measureIdle(ctx context.Context) error {
	if err := sleep(ctx, 2*time.Second); err != nil { // let the last start settle
		return err
	}
	samplers := map[*entry]*benchkit.Sampler{}
	for _, e := range b.entries {
		p, ok := e.m.process()
		if !ok {
			continue
		}
		s, err := benchkit.Sample(p.PID, time.Second)
		if err != nil {
			return fmt.Errorf("%s: %w", e.res.Manager, err)
		}
		samplers[e] = s
	}
	sleepErr := sleep(ctx, b.o.idle)
	for e, s := range samplers {
		u, err := s.Stop()
		if err != nil {
			return fmt.Errorf("%s idle: %w", e.res.Manager, err)
		}
		e.res.Idle = &u
		logf("%s idle: RSS %.1f MiB, CPU %.2f%% of a core", e.res.Manager, mib(u.RSSMeanBytes), u.CPUPercent)
	}
	return sleepErr
}

// wrk runs wrk through the deployment's nginx for up to limit; during,
// when set, runs meanwhile, and wrk is stopped once it returns.
func (b *bench) wrk(ctx context.Context, e *entry, method string, keepAlive bool, limit time.Duration, during func() error) (benchkit.WrkStats, error) {
	w, err := benchkit.StartWrk(ctx, benchkit.WrkConfig{URL: e.d.ngx.URL(), Method: method, KeepAlive: keepAlive, Served: 200,
		Duration: limit, Threads: b.o.threads, Connections: b.o.connections, Dir: e.d.dir})
	if err != nil {
		return benchkit.WrkStats{}, err
	}
	var duringErr error
	if during != nil {
		duringErr = during()
		w.Interrupt()
	}
	stats, err := w.Wait()
	if duringErr != nil {
		return stats, duringErr
	}
	return stats, err
}

// measureUpdates rolls out new code each way the manager's users would,
// for GET and POST, with each client mode, under wrk through nginx.
func (b *bench) measureUpdates(ctx context.Context, e *entry) error {
	for _, u := range e.m.updates() {
		for _, method := range []string{"GET", "POST"} {
			for _, keepAlive := range b.o.clients {
				r, err := b.updateRun(ctx, e, u, method, keepAlive)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if err != nil {
					r.Error = err.Error()
					logf("%s: %s, %s, client keep-alive %s: %v", e.res.Manager, u.name, method, yesNo(keepAlive), err)
				} else {
					logf("%s %s, client keep-alive %s: %d served, %d failed, update %.2fs, longest gap %.2fs",
						u.name, method, yesNo(keepAlive), r.Served, r.Failed, r.UpdateSeconds, float64(r.LongestGapMs)/1000)
				}
				e.res.Updates = append(e.res.Updates, r)
			}
		}
	}
	return nil
}

// updateRun starts from fresh nginx workers (no upstream server marked
// failed by a run before), sends load for o.before, changes the code on
// disk, runs the update, waits until every port answers the new code and
// nginx serves it again, and sends load for o.after more. So a run covers
// the whole outage, however long nginx keeps answering 502 after the
// instances are back (max_fails=1 fail_timeout=10s).
func (b *bench) updateRun(ctx context.Context, e *entry, u update, method string, keepAlive bool) (updateResult, error) {
	r := updateResult{Update: u.name, Method: method, ClientKeepAlive: keepAlive}
	if err := e.d.ngx.Reload(ctx); err != nil {
		return r, err
	}
	var t0, cmdEnd, t1 time.Time
	during := func() error {
		if err := sleep(ctx, b.o.before); err != nil {
			return err
		}
		want := message(e.d.version + 1)
		if err := e.d.writeCode(e.d.version + 1); err != nil {
			return err
		}
		t0 = time.Now()
		err := u.run(ctx, want)
		cmdEnd = time.Now()
		if err != nil {
			return err
		}
		if _, err = e.d.waitAnswers(ctx, want, time.Minute); err != nil {
			return fmt.Errorf("after %s: %w", u.name, err)
		}
		if t1, err = e.d.waitNginx(ctx, want, 30*time.Second); err != nil {
			return fmt.Errorf("after %s: %w", u.name, err)
		}
		r.NewCode = want
		return sleep(ctx, b.o.after)
	}
	stats, err := b.wrk(ctx, e, method, keepAlive, b.o.before+b.o.after+3*time.Minute, during)
	if err != nil {
		return r, err
	}
	r.fill(stats, t0, cmdEnd, t1)
	return r, nil
}

// fill sets the counts and rates from what wrk saw and when the update
// ran: from t0 (the command) to t1 (every port answering the new code).
func (r *updateResult) fill(s benchkit.WrkStats, t0, cmdEnd, t1 time.Time) {
	r.Statuses = map[string]int{}
	for code, n := range s.Statuses {
		r.Statuses[strconv.Itoa(code)] = n
	}
	r.SocketErrors = s.Errors
	r.Requests = s.Responses + s.Errors.Sum()
	r.Served = s.Statuses[200]
	r.Failed = r.Requests - r.Served
	r.UpdateSeconds = t1.Sub(t0).Seconds()
	r.CommandSeconds = cmdEnd.Sub(t0).Seconds()
	r.LatencyP99Ms, r.LatencyMaxMs = s.P99Ms, s.MaxMs
	first, last, ok := s.Span()
	if !ok {
		return
	}
	from, to := benchkit.Bucket(t0), benchkit.Bucket(t1)
	r.BeforeRPS = benchkit.Rate(s.Buckets, first+50, from-1)
	r.DuringRPS = benchkit.Rate(s.Buckets, from, to)
	r.UpdateStartMs, r.UpdateEndMs = (from-first)*10, (to-first)*10
	r.LongestGapMs = longestGap(s.Buckets, first, last) * 10
	for k := first; k <= last; k += 10 {
		n := 0
		for i := k; i < k+10; i++ {
			n += s.Buckets[i]
		}
		r.Timeline = append(r.Timeline, n)
	}
}

// longestGap is the longest run of 10 ms buckets with no served response
// between from and to.
func longestGap(b map[int64]int, from, to int64) int64 {
	var longest, run int64
	for k := from; k <= to; k++ {
		if b[k] > 0 {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	return longest
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
