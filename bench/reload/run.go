package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

type bench struct {
	opts       options
	root       string // the module's folder
	bin        string // hellomgr, built from it
	began      time.Time
	loadBefore string // /proc/loadavg when the bench started: the machine is shared
}

// load is one wrk load: a row of the table, for one app and front.
type load struct {
	method    string
	keepAlive bool
}

// runDeployment starts 4 instances of a behind nginx set up as f says,
// then measures a reload under each load, one after the other on the same
// deployment.
func (b *bench) runDeployment(ctx context.Context, a app, f front, loads []load) ([]result, error) {
	d, err := newDeployment(b.bin, f)
	if err != nil {
		return nil, err
	}
	defer d.close()
	if err := a.install(b.root, d, 1); err != nil {
		return nil, err
	}
	// up before nginx: with an `nginx:` section, up writes the upstream
	// file that nginx's config includes (and only warns that it could not
	// reload an nginx that is not running yet).
	if _, err := d.hellomgr(ctx, "up", "-d"); err != nil {
		return nil, err
	}
	printedText, err := d.startNginx(ctx, b.root)
	if err != nil {
		return nil, err
	}
	var results []result
	version := 1
	next := func() int { version++; return version }
	for _, l := range loads {
		r, err := b.measure(ctx, a, d, l, next)
		if err != nil {
			return results, err
		}
		r.NginxPrinted = printedText
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "%s, %s, %s, client keep-alive %s: %d requests, %s failed, slowest reload %.2fs, %.0f -> %.0f req/s\n",
			a.name, f.name, r.Method, yesNo(r.ClientKeepAlive), r.Requests, failedText(r), r.ReloadSeconds, r.BeforeRPS, r.DuringRPS)
	}
	if b.opts.chart {
		return results, b.handover(ctx, a, d, next)
	}
	return results, nil
}

// measure runs wrk through nginx and, from 30% of -duration on, changes
// the code to the next version and reloads, as many times as asked, 1 s
// apart. The load then goes on until it has lasted -duration, for at
// least 30% of -duration after the last reload, however long the reloads
// took (a drain reloads nginx 8 times per reload), and until nginx has
// read -min-requests (the plain app serves a few hundred a second): wrk is
// started for far longer and stopped with SIGINT, on which it reports as
// at its end.
func (b *bench) measure(ctx context.Context, a app, d *deployment, l load, next func() int) (result, error) {
	r := result{App: a.name, Front: d.front.name, Method: l.method, ClientKeepAlive: l.keepAlive,
		ServedStatus: a.served[l.method], MinRequests: b.opts.minRequests}
	counted, err := d.nginxRequests()
	if err != nil {
		return r, err
	}
	began := time.Now()
	w, err := startWrk(ctx, b.opts, d.dir, l, a.served[l.method], d.ngx.URL(), b.longest())
	if err != nil {
		return r, err
	}
	abort := func() { w.Interrupt(); w.Wait() }
	if r.Reloads, err = b.reloads(ctx, a, d, next); err != nil {
		abort()
		return r, err
	}
	last := r.Reloads[len(r.Reloads)-1]
	end := began.Add(b.opts.duration)
	if tail := last.end.Add(b.opts.duration * 3 / 10); tail.After(end) {
		end = tail
	}
	if err := b.keepLoading(ctx, d, began, end, counted); err != nil {
		abort()
		return r, err
	}
	w.Interrupt()
	stats, err := w.Wait()
	if err != nil {
		return r, err
	}
	r.fill(stats)
	if r.Requests < b.opts.minRequests {
		fmt.Fprintf(os.Stderr, "warning: %s, %s, %s, client keep-alive %s: %d requests, fewer than %d; use a longer -duration\n",
			a.name, d.front.name, l.method, yesNo(l.keepAlive), r.Requests, b.opts.minRequests)
	}
	r.NewCode = a.answer(last.Version)
	r.NewCodeServed, r.AnswersAfter = newCodeServed(d.ngx.URL(), r.NewCode)
	return r, nil
}

// reloads waits 30% of -duration, then changes the code to the next
// version and reloads, as many times as asked, 1 s apart, noting after
// each reload whether every instance's pid changed.
func (b *bench) reloads(ctx context.Context, a app, d *deployment, next func() int) ([]reloadRun, error) {
	pids, err := d.pids(ctx)
	if err != nil {
		return nil, err
	}
	var runs []reloadRun
	pause := b.opts.duration * 3 / 10
	for range b.opts.reloads {
		if err := sleep(ctx, pause); err != nil {
			return runs, err
		}
		v := next()
		if err := a.install(b.root, d, v); err != nil {
			return runs, err
		}
		rr := reload(ctx, d, v)
		after, err := d.pids(ctx)
		if err != nil {
			return runs, err
		}
		rr.PIDs, rr.EveryPIDReplaced = after, everyReplaced(pids, after)
		pids = after
		runs = append(runs, rr)
		pause = time.Second
	}
	return runs, nil
}

// longest is how long wrk is started for: more than any run lasts, which
// the bench ends itself.
func (b *bench) longest() time.Duration {
	return 2*b.opts.duration + time.Duration(b.opts.reloads)*30*time.Second
}

// keepLoading waits until end, then for as long as nginx has read fewer
// than 5% more than -min-requests since it counted counted (a slow app
// needs more than -duration for them), each time for as long as the rate
// so far says it takes, and never past 2 s before wrk's own end.
func (b *bench) keepLoading(ctx context.Context, d *deployment, began, end time.Time, counted int) error {
	want := b.opts.minRequests + b.opts.minRequests/20
	limit := began.Add(b.longest() - 2*time.Second)
	for {
		if err := sleep(ctx, time.Until(end)); err != nil {
			return err
		}
		n, err := d.nginxRequests()
		if err != nil {
			return err
		}
		n -= counted
		if n >= want || !time.Now().Before(limit) {
			return nil
		}
		rate := float64(n) / time.Since(began).Seconds()
		wait := time.Second
		if rate > 0 {
			wait = max(wait, time.Duration(float64(want-n)/rate*float64(time.Second)))
		}
		end = time.Now().Add(wait)
		if end.After(limit) {
			end = limit
		}
	}
}

// sleep waits for d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reload runs `hellomgr reload` and times it.
func reload(ctx context.Context, d *deployment, v int) reloadRun {
	rr := reloadRun{Version: v, start: time.Now()}
	out, err := d.hellomgr(ctx, "reload")
	rr.end = time.Now()
	rr.Seconds = rr.end.Sub(rr.start).Seconds()
	rr.Output = strings.Split(strings.TrimSpace(out), "\n")
	if err != nil {
		rr.Error = err.Error()
	}
	return rr
}

// everyReplaced reports whether every port has a process after, and not
// the one it had before: a reload replaces every instance, whether or not
// the code changed (the built-in server without a command cannot change
// its answer, so this is how its reload is checked).
func everyReplaced(before, after map[int]int) bool {
	for port, pid := range before {
		if after[port] == 0 || after[port] == pid {
			return false
		}
	}
	return len(after) == len(before)
}

// newCodeServed sends 8 GETs through nginx, each on a new connection (2
// rounds of nginx's round robin over 4 instances in a worker), and
// reports whether every one answered 200 want.
func newCodeServed(url, want string) (bool, map[string]int) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	seen := map[string]int{}
	for range 8 {
		resp, err := client.Get(url)
		if err != nil {
			seen[err.Error()]++
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen[fmt.Sprintf("%d %s", resp.StatusCode, b)]++
	}
	return seen["200 "+want] == 8, seen
}
