package instance

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/hellomgr/hellomgr/cgroup"
)

// Liveness is the probe of a ready instance: off when Interval is 0.
type Liveness struct {
	HTTPPath string        // GET this path; any status below 500 counts. Empty: a TCP connect counts.
	Interval time.Duration // from one probe to the next; 0: no probe
	Timeout  time.Duration // a probe not answered by then failed; less than Interval, so one is in flight at most
	Failures int           // failed probes in a row that make the instance unhealthy
}

// Why an instance is reported unhealthy (Spec.OnUnhealthy), and the restart
// reasons its replacement is counted under.
const (
	ReasonLiveness = "liveness"
	ReasonMemory   = "memory"
)

// watch is what looks after a ready process: its liveness probe and its
// memory limit, each on a goroutine of its own, until the process stops
// being ready. It reports at most once (report), then stays quiet: the
// manager replaces the instance, or, if that fails, the next streak of
// failures reports again.
type watch struct {
	i      *Instance
	pid    int
	group  *cgroup.Group // the process's cgroup, or nil
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// watchReady starts watching the current process, which has just become
// ready. Called on the runner's goroutine.
func (r *runner) watchReady() {
	spec := &r.i.spec
	if r.child == nil || (spec.Liveness.Interval <= 0 && spec.MemoryLimit <= 0) {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &watch{i: r.i, pid: r.child.PID(), group: groupOf(r.child), cancel: cancel}
	r.watch = w
	if spec.Liveness.Interval > 0 && spec.OnUnhealthy != nil {
		w.done.Go(func() { w.probe(ctx, spec.Liveness) })
	}
	if spec.MemoryLimit > 0 && spec.OnUnhealthy != nil {
		w.done.Go(func() { w.memory(ctx, spec.MemoryLimit) })
	}
}

// unwatch stops watching, and waits for the watchers to return, so that
// none reports on a process that is no longer the instance's. Safe to call
// with nothing watched. A probe in flight ends at its timeout at most.
func (r *runner) unwatch() {
	if r.watch == nil {
		return
	}
	r.watch.cancel()
	r.watch.done.Wait()
	r.watch = nil
}

// probe probes every interval and reports once l.Failures probes in a row
// have failed. A probe is made only while the process is the only one
// started on its shared socket (Spec.Listener): during a swap, a probe of
// the port could be answered, or left hanging, by the other process.
func (w *watch) probe(ctx context.Context, l Liveness) {
	tick := time.NewTicker(l.Interval)
	defer tick.Stop()
	failed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if sharers.count(w.i.spec.Listener) > 1 {
			continue // another process of the port still runs: wait for it to go
		}
		err := probeLive(ctx, w.i.spec.host(), w.i.spec.Port, l)
		if err == nil {
			failed = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		failed++
		w.i.log.Warn("liveness probe failed", "pid", w.pid, "failed", failed, "of", l.Failures, "err", err)
		if failed >= l.Failures {
			w.report(ctx, ReasonLiveness, fmt.Sprintf("%d liveness probes in a row failed, the last: %v", failed, err))
			failed = 0
		}
	}
}

// probeLive makes one liveness probe, bounded by l.Timeout. The HTTP
// request is on a fresh connection: a process that accepts (or whose
// shared socket's kernel queue accepts) but never answers fails it.
func probeLive(ctx context.Context, host netip.Addr, port int, l Liveness) error {
	ctx, cancel := context.WithTimeout(ctx, l.Timeout)
	defer cancel()
	addr := netip.AddrPortFrom(host, uint16(port)).String()
	if l.HTTPPath == "" {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+l.HTTPPath, nil)
	if err != nil {
		return err
	}
	req.Close = true
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("GET %s answered %s", l.HTTPPath, resp.Status)
	}
	return nil
}

// report records cause as the instance's last error and tells the
// manager (Spec.OnUnhealthy), unless the watch has ended or the process
// is no longer the instance's ready one.
func (w *watch) report(ctx context.Context, reason, cause string) {
	i := w.i
	i.mu.Lock()
	current := ctx.Err() == nil && i.status.PID == w.pid && i.status.State == Ready
	if current {
		i.status.LastError = fmt.Sprintf("pid %d unhealthy (%s): %s", w.pid, reason, cause)
	}
	i.mu.Unlock()
	if !current {
		return
	}
	i.log.Warn("unhealthy: to be replaced", "pid", w.pid, "reason", reason, "cause", cause)
	i.spec.OnUnhealthy(i, reason)
}

// CountReplacement records that i replaced, on the same port, an instance
// that was unhealthy for reason: i carries on that instance's restart
// counts (prev, its Status().Restarts), with one more for reason, and
// its cause as the last error. So `status` and the metrics count a
// replacement after a failed liveness probe or memory limit as a restart
// of the port, as after a crash, not as a fresh start.
func (i *Instance) CountReplacement(prev map[string]uint64, reason, cause string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.status.addRestarts(prev, reason)
	i.status.LastError = cause
}
