package manager

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/reqlog"
)

// A canary reload (`hellomgr reload --canary N --watch D`) replaces N ports,
// watches them for D, and goes on with the rest only if they held up. The
// canary is judged on what it answers, against the ports still on the old
// code over the same window, from two records: nginx's (the access_log line
// `hellomgr nginx` prints, for any app: requests.go) and the app's own
// http_requests_total on /metrics, where it has one. A canary fails when,
// during the watch:
//
//   - it restarted (it crashed) or is not ready;
//   - it failed its liveness probe or memory limit (noteUnhealthy);
//   - it stopped answering: its process is stopped (SIGSTOP), or its
//     /metrics (or, for an app without one, its readiness path), which
//     answered as the watch began, went unanswered twice in a row, or
//     nginx recorded no answer from it for a while as the old ports
//     answered theirs;
//   - it answered a larger share of 5xx than the old ports, together, or
//     was much slower than they were (canarySlower), in either record;
//   - it received no request at all, unless --allow-idle: a canary that
//     served nothing proves nothing, and is not let pass silently.
//
// The manager's own requests to a canary (its /metrics reads) are taken
// out of the app's counts: only what others asked of it is judged.
//
// A failed canary puts every canary back on the old config and halts the
// reload, with the evidence, one line per port.

const (
	canaryReports = 5 * time.Second // how often the watch reports its progress, at most
	canaryPulse   = time.Second     // how often it asks each canary directly
	canaryMisses  = 2               // unanswered asks in a row that fail a canary
	// A canary fails on latency when its p90 (nginx's record; the mean,
	// in the app's own) is over twice the old ports' and slower by
	// canarySlower, from canaryTimed timed requests each at least.
	canarySlower = 50 * time.Millisecond
	canaryTimed  = 20
)

// judgeCanaries watches canaries, just replaced, for r.opts.Watch, and
// rolls them back when one fails.
func (m *Manager) judgeCanaries(ctx context.Context, r *rollout, canaries, old []int) error {
	w := m.startWatch(r.cfg, r.opts, canaries, old)
	defer m.endWatch(w)
	r.progress("canary %s: watching for %s: restarts, health, whether it answers, and its share of 5xx and latency against the old code's, from nginx's record and the app's own http_requests_total", config.PortList(canaries), r.opts.Watch)
	begun := time.Now()
	report := time.NewTicker(min(canaryReports, max(r.opts.Watch/4, 100*time.Millisecond)))
	defer report.Stop()
	check := time.NewTicker(100 * time.Millisecond)
	defer check.Stop()
	pulses := time.NewTicker(min(canaryPulse, max(r.opts.Watch/4, 100*time.Millisecond)))
	defer pulses.Stop()
	for {
		evidence := w.failures(m)
		if len(evidence) == 0 && time.Since(begun) >= r.opts.Watch {
			w.read()
			if evidence = w.verdict(); len(evidence) == 0 {
				r.progress("canary %s: held up for %s (%s); rolling out the rest", config.PortList(canaries), r.opts.Watch, w.summary())
				return nil
			}
		}
		if len(evidence) > 0 {
			return m.rollBack(ctx, r, canaries, evidence)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-report.C:
			watched := min(time.Since(begun), r.opts.Watch).Round(100 * time.Millisecond)
			r.progress("canary %s: %s of %s watched, %s", config.PortList(canaries), watched, r.opts.Watch, w.summary())
		case <-pulses.C:
			w.pulse(time.Now())
		case <-check.C:
		}
	}
}

// rollBack puts the canaries back on the previous config and returns the
// error that halts the reload.
func (m *Manager) rollBack(ctx context.Context, r *rollout, canaries []int, evidence []string) error {
	r.progress("canary failed; putting %s back on the previous config", config.PortList(canaries))
	back := &rollout{m: m, old: r.cfg, cfg: r.old, progress: r.progress}
	err := m.replaceAll(ctx, back, canaries)
	back.draining.Wait()
	msg := fmt.Sprintf("reload halted: the canary failed, %s back on the previous config", config.PortList(canaries))
	if err != nil {
		msg = fmt.Sprintf("reload halted: the canary failed, and putting %s back failed too: %v", config.PortList(canaries), err)
	}
	return fmt.Errorf("%s:\n  %s", msg, strings.Join(evidence, "\n  "))
}

// canaryWatch is what a canary watch knows of each port. Only the
// judging goroutine uses it, but for unhealthy, under mu.
type canaryWatch struct {
	canaries, old []int
	allowIdle     bool
	window        time.Duration              // how long nginx may record nothing from a canary
	askPath       string                     // what to ask a canary without /metrics; "" for nothing
	inst          map[int]*instance.Instance // each canary's instance as the watch began
	restarts      map[int]uint64             // and its restarts then
	counts        *reqlog.Counts             // nginx's record
	nginx0, now   map[int]reqlog.Tally       // as the watch began, and at the last read
	history       []nginxSample              // the canaries' and old ports' record at each pulse
	app0, app     map[int]appCount           // the app's own, as the watch began and last read
	asked         map[int]float64            // the manager's answered /metrics reads, in app (see read)
	misses        map[int]int                // asks unanswered in a row
	silent        map[int]string             // canaries that stopped answering, and how
	mu            sync.Mutex
	unhealthy     map[int]string // canaries reported unhealthy, and why
}

// nginxSample is nginx's record at one moment of the watch.
type nginxSample struct {
	at       time.Time
	canaries map[int]uint64 // each canary's requests
	old      uint64         // the old ports' requests, together
}

func (m *Manager) startWatch(cfg *config.Config, opts control.ReloadOptions, canaries, old []int) *canaryWatch {
	w := &canaryWatch{canaries: canaries, old: old, allowIdle: opts.AllowIdle,
		window: max(3*time.Second, opts.Watch/4), counts: m.reqs.counts(),
		inst: map[int]*instance.Instance{}, restarts: map[int]uint64{},
		nginx0: map[int]reqlog.Tally{}, now: map[int]reqlog.Tally{},
		app0: map[int]appCount{}, app: map[int]appCount{}, asked: map[int]float64{},
		misses: map[int]int{}, silent: map[int]string{}, unhealthy: map[int]string{}}
	if cfg.Ready.Kind == config.ProbeHTTP {
		w.askPath = cfg.Ready.Path
	}
	for _, port := range canaries {
		if i := m.instanceOn(port); i != nil {
			w.inst[port], w.restarts[port] = i, i.Status().RestartCount()
		}
		w.counts.SetGeneration(port, reqlog.Canary)
	}
	for _, port := range old {
		w.counts.SetGeneration(port, reqlog.Old)
	}
	for _, port := range w.ports() {
		w.nginx0[port] = w.counts.Tally(port)
		w.app0[port], _ = readAppCount(port) // a read the app counts: see read
	}
	w.read()
	w.pulse(time.Now())
	m.canary.Store(w)
	return w
}

func (m *Manager) endWatch(w *canaryWatch) {
	m.canary.CompareAndSwap(w, nil)
	for _, port := range w.ports() {
		w.counts.SetGeneration(port, reqlog.Current)
	}
}

func (w *canaryWatch) ports() []int { return append(append([]int(nil), w.canaries...), w.old...) }

// noteUnhealthy tells a canary watch in progress that the instance on port
// failed its liveness probe or memory limit.
func (m *Manager) noteUnhealthy(port int, reason string) {
	if w := m.canary.Load(); w != nil {
		w.mu.Lock()
		w.unhealthy[port] = reason
		w.mu.Unlock()
	}
}

// failures lists what already condemns a canary: a restart, a replaced,
// unready or stopped instance, a failed liveness probe or memory limit,
// figures that stopped coming.
func (w *canaryWatch) failures(m *Manager) []string {
	var evidence []string
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, port := range w.canaries {
		i := m.instanceOn(port)
		switch st := statusOf(i); {
		case w.unhealthy[port] != "":
			evidence = append(evidence, fmt.Sprintf("%d: failed its %s check", port, w.unhealthy[port]))
		case i != w.inst[port]:
			evidence = append(evidence, fmt.Sprintf("%d: replaced during the watch", port))
		case st.RestartCount() > w.restarts[port]:
			evidence = append(evidence, fmt.Sprintf("%d: restarted %d times (%s)", port, st.RestartCount()-w.restarts[port], st.LastError))
		case st.State != instance.Ready:
			evidence = append(evidence, fmt.Sprintf("%d: %s, not ready (%s)", port, st.State, st.LastError))
		case stoppedProcess(st.PID):
			evidence = append(evidence, fmt.Sprintf("%d: its process (pid %d) is stopped (SIGSTOP?) and answers nothing", port, st.PID))
		case w.silent[port] != "":
			evidence = append(evidence, fmt.Sprintf("%d: %s", port, w.silent[port]))
		}
	}
	return evidence
}

func statusOf(i *instance.Instance) instance.Status {
	if i == nil {
		return instance.Status{State: instance.Stopped}
	}
	return i.Status()
}

// pulse asks each canary directly whether it still answers (its /metrics,
// read for its figures, or its readiness path), and notes nginx's record.
func (w *canaryWatch) pulse(now time.Time) {
	for _, port := range w.canaries {
		var err error
		var what string
		if w.app0[port].ok {
			what = "/metrics"
			var c appCount
			if c, err = readAppCount(port); err == nil {
				w.app[port] = c
				w.asked[port]++
			}
		} else if w.askPath != "" {
			what = w.askPath
			_, err = pulse(port, w.askPath)
		}
		w.miss(port, what, err)
	}
	w.sample(now)
}

// miss counts an unanswered ask; canaryMisses in a row silence the canary.
func (w *canaryWatch) miss(port int, what string, err error) {
	if err == nil {
		w.misses[port] = 0
		return
	}
	if w.misses[port]++; w.misses[port] >= canaryMisses && w.silent[port] == "" {
		w.silent[port] = fmt.Sprintf("stopped answering GET %s, which answered as the watch began (%d asks in a row: %v)", what, w.misses[port], err)
	}
}

// sample notes nginx's record now, and silences a canary that nginx saw
// nothing from for w.window while the old ports answered enough that it
// should have had 10 requests or more.
func (w *canaryWatch) sample(now time.Time) {
	s := nginxSample{at: now, canaries: map[int]uint64{}}
	for _, port := range w.canaries {
		s.canaries[port] = w.counts.Tally(port).Requests
	}
	for _, port := range w.old {
		s.old += w.counts.Tally(port).Requests
	}
	w.history = append(w.history, s)
	var then *nginxSample
	for i := range w.history {
		if now.Sub(w.history[i].at) < w.window {
			break
		}
		then = &w.history[i]
	}
	if then == nil || len(w.old) == 0 {
		return
	}
	oldN := s.old - then.old
	for _, port := range w.canaries {
		expected := float64(oldN) / float64(len(w.old))
		if s.canaries[port] == then.canaries[port] && expected >= 10 && w.silent[port] == "" {
			w.silent[port] = fmt.Sprintf("nginx recorded no answer from it for %s, while the ports on the old code answered %d requests", w.window.Round(time.Second), oldN)
		}
	}
}

// read takes nginx's record of every port, and the app's own figures of
// the old ports (a canary's come with each pulse).
func (w *canaryWatch) read() {
	for _, port := range w.ports() {
		w.now[port] = w.counts.Tally(port)
	}
	for _, port := range w.old {
		if w.app0[port].ok {
			if c, err := readAppCount(port); err == nil {
				w.app[port] = c
				w.asked[port] = 1 // the read as the watch began, counted since
			}
		}
	}
}

// figures is what the two records say of some ports over the watch.
type figures struct {
	nginx reqlog.Tally
	app   appCount // ok false: the app counts no requests
}

// over adds up the records of ports since the watch began, the manager's
// own reads taken out of the app's.
func (w *canaryWatch) over(ports []int) figures {
	var f figures
	for _, port := range ports {
		f.nginx.Add(w.now[port].Since(w.nginx0[port]))
		if now, ok := w.app[port]; ok && w.app0[port].ok {
			d := now.since(w.app0[port])
			d.total = max(d.total-w.asked[port], 0)
			f.app.ok = true
			f.app.total += d.total
			f.app.errors += d.errors
			f.app.seconds += d.seconds
			f.app.n += d.n
		}
	}
	return f
}

// verdict judges each canary's answers against the old ports', in each
// record: nothing received, a larger share of 5xx, much slower.
func (w *canaryWatch) verdict() []string {
	base := w.over(w.old)
	var evidence []string
	for _, port := range w.canaries {
		c := w.over([]int{port})
		if c.nginx.Requests == 0 && c.app.total == 0 {
			if !w.allowIdle {
				evidence = append(evidence, fmt.Sprintf("%d: received no requests during the watch (%s), so nothing shows the new code answers: send it traffic, or pass --allow-idle to let an idle canary pass", port, idleWhy(c)))
			}
			continue
		}
		if n, b := c.nginx, base.nginx; n.Errors > 0 && n.ErrorShare() > b.ErrorShare() {
			evidence = append(evidence, fmt.Sprintf("%d: answered 5xx to %s of %d requests (nginx's record); the ports on the old code to %s of %d",
				port, percent(n.ErrorShare()), n.Requests, percent(b.ErrorShare()), b.Requests))
		} else if a, b := c.app, base.app; a.errors > 0 && a.share() > b.share() {
			evidence = append(evidence, fmt.Sprintf("%d: answered 5xx to %s of %.0f requests (the app's own http_requests_total); the ports on the old code to %s of %.0f",
				port, percent(a.share()), a.total, percent(b.share()), b.total))
		}
		if slow := slower(c, base); slow != "" {
			evidence = append(evidence, fmt.Sprintf("%d: slower than the old code: %s", port, slow))
		}
	}
	return evidence
}

// slower says how c is much slower than base, or "".
func slower(c, base figures) string {
	much := func(x, y float64) bool { return x > 2*y && x-y > canarySlower.Seconds() }
	if c.nginx.Timed >= canaryTimed && base.nginx.Timed >= canaryTimed {
		if x, y := c.nginx.Quantile(0.9), base.nginx.Quantile(0.9); much(x, y) {
			return fmt.Sprintf("p90 %s against %s (nginx's record)", ms(x), ms(y))
		}
	}
	if c.app.n >= canaryTimed && base.app.n >= canaryTimed {
		if x, y := c.app.mean(), base.app.mean(); much(x, y) {
			return fmt.Sprintf("mean %s against %s (the app's own http_request_duration_seconds)", ms(x), ms(y))
		}
	}
	return ""
}

func idleWhy(c figures) string {
	if c.app.ok {
		return "nginx recorded none, and the app counted none but the manager's own reads"
	}
	return "nginx recorded none, and the app counts no requests of its own; is the access_log line of `hellomgr nginx` in nginx's config?"
}

// summary is a line of what the watch has seen so far.
func (w *canaryWatch) summary() string {
	w.read()
	c, o := w.over(w.canaries), w.over(w.old)
	parts := []string{"no restarts"}
	if c.nginx.Requests > 0 || o.nginx.Requests > 0 {
		parts = append(parts, fmt.Sprintf("nginx's record: 5xx %s of %d requests, p90 %s (old code: %s of %d, p90 %s)",
			percent(c.nginx.ErrorShare()), c.nginx.Requests, ms(c.nginx.Quantile(0.9)),
			percent(o.nginx.ErrorShare()), o.nginx.Requests, ms(o.nginx.Quantile(0.9))))
	}
	if c.app.ok {
		line := fmt.Sprintf("the app's own: 5xx %s of %.0f requests", percent(c.app.share()), c.app.total)
		if o.app.ok {
			line += fmt.Sprintf(" (old code: %s of %.0f)", percent(o.app.share()), o.app.total)
		}
		parts = append(parts, line)
	}
	if len(parts) == 1 {
		parts = append(parts, "no requests recorded (nginx's record: none; the app counts no requests)")
	}
	return strings.Join(parts, "; ")
}

func percent(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" }

func ms(s float64) string { return strconv.FormatFloat(1000*s, 'f', 1, 64) + " ms" }
