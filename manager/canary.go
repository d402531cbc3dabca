package manager

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hellomgr/hellomgr/instance"
)

// A canary reload (`hellomgr reload --canary N --watch D`) replaces N ports,
// watches them for D, and goes on with the rest only if they held up. A
// canary fails when, during the watch:
//
//   - it restarted (it crashed) or is not ready;
//   - it failed its liveness probe or memory limit (noteUnhealthy);
//   - the app counts its requests (Prometheus' http_requests_total with a
//     code label, on the port's /metrics, as the built-in server does) and
//     the canary answered a larger share of 5xx than the ports still on the
//     old code, together, over the same window.
//
// A failed canary puts every canary back on the old config and halts the
// reload, with the evidence, one line per port.

// canaryReports is how often the watch reports its progress, at most.
const canaryReports = 5 * time.Second

// judgeCanaries watches canaries, just replaced, for r.opts.Watch, and
// rolls them back when one fails.
func (m *Manager) judgeCanaries(ctx context.Context, r *rollout, canaries, old []int) error {
	w := m.startWatch(canaries, old)
	defer m.endWatch(w)
	r.progress("canary %s: watching for %s: restarts, health and, where the app counts its requests (http_requests_total on /metrics), the share of 5xx answers", portList(canaries), r.opts.Watch)
	begun := time.Now()
	report := time.NewTicker(min(canaryReports, max(r.opts.Watch/4, 100*time.Millisecond)))
	defer report.Stop()
	check := time.NewTicker(100 * time.Millisecond)
	defer check.Stop()
	for {
		evidence := w.failures(m)
		if len(evidence) == 0 && time.Since(begun) >= r.opts.Watch {
			evidence = w.errorShares()
			if len(evidence) == 0 {
				r.progress("canary %s: held up for %s (%s); rolling out the rest", portList(canaries), r.opts.Watch, w.summary())
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
			r.progress("canary %s: %s of %s watched, %s", portList(canaries), watched, r.opts.Watch, w.summary())
		case <-check.C:
		}
	}
}

// rollBack puts the canaries back on the previous config and returns the
// error that halts the reload.
func (m *Manager) rollBack(ctx context.Context, r *rollout, canaries []int, evidence []string) error {
	r.progress("canary failed; putting %s back on the previous config", portList(canaries))
	back := &rollout{m: m, old: r.cfg, cfg: r.old, progress: r.progress}
	err := m.replaceAll(ctx, back, canaries)
	back.draining.Wait()
	msg := fmt.Sprintf("reload halted: the canary failed, %s back on the previous config", portList(canaries))
	if err != nil {
		msg = fmt.Sprintf("reload halted: the canary failed, and putting %s back failed too: %v", portList(canaries), err)
	}
	return fmt.Errorf("%s:\n  %s", msg, strings.Join(evidence, "\n  "))
}

// canaryWatch is what a canary watch knows of each port.
type canaryWatch struct {
	canaries, old []int
	inst          map[int]*instance.Instance // each canary's instance as the watch began
	restarts      map[int]uint64
	start         map[int]requestCount // counts as the watch began, every port

	mu        sync.Mutex
	unhealthy map[int]string // canaries reported unhealthy, and why
}

func (m *Manager) startWatch(canaries, old []int) *canaryWatch {
	w := &canaryWatch{canaries: canaries, old: old, inst: map[int]*instance.Instance{},
		restarts: map[int]uint64{}, start: map[int]requestCount{}, unhealthy: map[int]string{}}
	for _, port := range canaries {
		if i := m.instanceOn(port); i != nil {
			w.inst[port], w.restarts[port] = i, i.Status().RestartCount()
		}
	}
	for _, port := range append(append([]int(nil), canaries...), old...) {
		w.start[port] = countRequests(port)
	}
	m.canary.Store(w)
	return w
}

func (m *Manager) endWatch(w *canaryWatch) { m.canary.CompareAndSwap(w, nil) }

// noteUnhealthy tells a canary watch in progress that the instance on port
// failed its liveness probe or memory limit.
func (m *Manager) noteUnhealthy(port int, reason string) {
	if w := m.canary.Load(); w != nil {
		w.mu.Lock()
		w.unhealthy[port] = reason
		w.mu.Unlock()
	}
}

// failures lists what already condemns a canary: a restart, a replaced or
// unready instance, a failed liveness probe or memory limit.
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

// errorShares compares each canary's share of 5xx answers over the watch
// with that of the ports on the old code, together.
func (w *canaryWatch) errorShares() []string {
	base := w.since(w.old)
	var evidence []string
	for _, port := range w.canaries {
		c := w.since([]int{port})
		if !c.ok || c.total == 0 {
			continue // the app counts no requests, or got none: nothing to judge
		}
		if c.share() > base.share() {
			evidence = append(evidence, fmt.Sprintf("%d: answered 5xx to %s of %.0f requests; the ports on the old code to %s of %.0f",
				port, percent(c.share()), c.total, percent(base.share()), base.total))
		}
	}
	return evidence
}

// since sums the requests ports answered since the watch began.
func (w *canaryWatch) since(ports []int) requestCount {
	var sum requestCount
	for _, port := range ports {
		now, then := countRequests(port), w.start[port]
		if !now.ok {
			continue
		}
		// An app makes a series on its first answer, so a port may have
		// had none at the start; and a new process counts from 0 again.
		if !then.ok || now.total < then.total {
			then = requestCount{ok: true}
		}
		sum.ok = true
		sum.total += now.total - then.total
		sum.errors += now.errors - then.errors
	}
	return sum
}

// summary is a line of what the watch has seen so far.
func (w *canaryWatch) summary() string {
	c, o := w.since(w.canaries), w.since(w.old)
	if !c.ok {
		return "no restarts; the app counts no requests (no http_requests_total on /metrics)"
	}
	line := fmt.Sprintf("no restarts, 5xx %s of %.0f requests", percent(c.share()), c.total)
	if o.ok {
		line += fmt.Sprintf(" (old code: %s of %.0f)", percent(o.share()), o.total)
	}
	return line
}

// requestCount is what a port's /metrics says of its answers so far.
type requestCount struct {
	total, errors float64
	ok            bool // the app exposes http_requests_total with a code label
}

func (c requestCount) share() float64 {
	if c.total == 0 {
		return 0
	}
	return c.errors / c.total
}

func percent(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" }

var metricsClient = &http.Client{Timeout: time.Second}

// countRequests reads http_requests_total from the app on port: every
// series, and those whose code label is 5xx.
func countRequests(port int) requestCount {
	resp, err := metricsClient.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		return requestCount{}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return requestCount{}
	}
	var c requestCount
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "http_requests_total{") {
			continue
		}
		labels, value, ok := strings.Cut(line[len("http_requests_total{"):], "} ")
		code, found := labelValue(labels, "code")
		v, err := strconv.ParseFloat(strings.Fields(value + " ")[0], 64)
		if !ok || !found || err != nil {
			continue
		}
		c.ok = true
		c.total += v
		if strings.HasPrefix(code, "5") {
			c.errors += v
		}
	}
	return c
}

// labelValue finds name="value" in a Prometheus label list.
func labelValue(labels, name string) (string, bool) {
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.TrimSpace(k) == name {
			return strings.Trim(v, `"`), true
		}
	}
	return "", false
}
