package instance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/internal/bugs"
)

// runner is the owner goroutine of an instance for one stretch of life,
// from Start until the instance is stopped or failed. All its fields belong
// to that goroutine alone.
type runner struct {
	i       *Instance
	mode    StartMode
	first   chan<- error // answered once, when the first start succeeds or fails
	adopted *adoption    // set by Adopt: the process to begin with instead of a start

	child       Process    // nil in backoff, or after a spawn that failed
	spawnErr    chan error // holds why the last start spawned no process, until handled
	probeDone   chan error
	cancelProbe context.CancelFunc
	notReady    error        // set when the probe gave up on the current process
	readySock   *readySocket // the current process's NOTIFY_SOCKET, if readiness is READY=1

	restartAt <-chan time.Time
	killAt    <-chan time.Time
	waiters   []chan struct{} // stop requests to answer when the process is gone

	fails   int       // unasked exits in a row, of runs shorter than ResetAfter
	readyAt time.Time // when the current process became ready; zero until it is
	watch   *watch    // liveness and memory of the ready process (liveness.go)

	releaseStat func() // lets go of the current process's /proc/PID/stat (proc.Hold)
}

// run is the instance's event loop: one select over a failed spawn, the
// process's exit, its probe, the backoff and kill timers, and requests.
func (r *runner) run() {
	defer func() { r.i.finish(r.waiters) }()
	defer r.survive()
	if r.adopted != nil {
		r.resume(r.adopted)
	} else {
		r.start()
	}
	for !r.next() {
	}
}

// survive ends a runner that panicked, which is a bug: it is reported,
// the process (if any) is killed and waited for a bounded time, and the
// instance is left failed, so that the port is in a documented state and
// a start or reload can bring it back. The manager lives on.
func (r *runner) survive() {
	if !bugs.Recovered(r.i.log, recover(), "port", r.i.spec.Port) {
		return
	}
	if r.child != nil {
		r.child.Kill()
		select {
		case <-r.child.Exited():
		case <-time.After(r.i.spec.StopTimeout):
		}
	}
	r.i.mu.Lock()
	r.i.status.State, r.i.status.Since, r.i.status.PID = Failed, time.Now(), 0
	r.i.status.LastError = "internal error in hellomgr (see its log); start or reload the port to try again"
	r.i.mu.Unlock()
	r.answerFirst(fmt.Errorf("instance %d: internal error in hellomgr", r.i.spec.Port))
}

// next handles one event and reports whether the runner is done.
func (r *runner) next() bool {
	var exited <-chan error
	if r.child != nil {
		exited = r.child.Exited()
	}
	select {
	case err := <-r.spawnErr:
		r.spawnErr = nil
		return r.startFailed(0, -1, err)
	case err := <-r.probeDone:
		r.probed(err)
	case err := <-exited:
		return r.exited(err)
	case <-r.restartAt:
		r.restartAt = nil
		r.start()
	case <-r.killAt:
		r.killAt = nil
		r.i.log.Warn("did not stop in time, sending SIGKILL", "timeout", r.i.spec.StopTimeout)
		r.child.Kill() // its group and its whole cgroup
	case reply := <-r.i.stops:
		return r.stop(reply)
	case req := <-r.i.freezes:
		r.freeze(req)
	}
	return false
}

// start launches a process and its readiness probe. A launch that fails
// (the executable is missing, say) spawns nothing: its error is the next
// event, a failed start.
func (r *runner) start() {
	r.notReady = nil
	p, err := r.launch()
	if err != nil {
		r.closeReady()
		r.i.setState(Starting, func(s *Status) { s.PID = 0 })
		r.spawnErr = make(chan error, 1)
		r.spawnErr <- err
		return
	}
	r.child = p
	r.started(p)
	r.i.setState(Starting, func(s *Status) { s.PID = p.PID(); s.StartTime = time.Now() })
	r.probe(p)
}

// probe waits, on goroutines of its own, for p to be ready: its READY=1,
// or an answer on the port. Its verdict arrives on probeDone.
func (r *runner) probe(p Process) {
	ctx, cancel := context.WithTimeout(context.Background(), r.i.spec.Probe.Timeout)
	r.cancelProbe = cancel
	done := make(chan error, 1)
	r.probeDone = done
	if ns := r.readySock; ns != nil {
		go ns.serve(notifyPID(p))
		go func() { done <- ns.wait(ctx) }()
		return
	}
	go func() { done <- r.i.spec.Probe.wait(ctx, r.i.spec.host(), r.i.spec.Port) }()
}

// listenReady opens the process's notify socket when its readiness is a
// READY=1, and keeps it until the process exits.
func (r *runner) listenReady() (*readySocket, error) {
	if !r.i.spec.Probe.Notify {
		return nil, nil
	}
	ns, err := listenReady()
	r.readySock = ns
	return ns, err
}

func (r *runner) closeReady() {
	if r.readySock != nil {
		r.readySock.close()
		r.readySock = nil
	}
}

// probed handles the probe's verdict on the current process.
func (r *runner) probed(err error) {
	r.probeDone = nil
	if err == nil {
		r.readyAt = time.Now()
		r.i.setState(Ready, nil)
		r.watchReady()
		r.answerFirst(nil)
		return
	}
	// Not ready in time: the process is hung or serves elsewhere. Kill it;
	// its exit is handled as a failed start.
	r.notReady = fmt.Errorf("not ready within %s: %w", r.i.spec.Probe.Timeout, err)
	if errors.Is(err, errNoReady) {
		r.notReady = fmt.Errorf("%w (%s): does the app use NOTIFY_SOCKET? ready.notify: true waits for it", err, r.i.spec.Probe.Timeout)
	}
	r.child.Kill()
}

// exited handles the end of the current process and reports whether the
// runner is done.
func (r *runner) exited(err error) bool {
	wasReady := !r.readyAt.IsZero()
	pid := r.endChild()
	reason, code := exitReason(err)
	if len(r.waiters) > 0 {
		// The waiters are answered by finish, once a Start may begin anew.
		r.i.setState(Stopped, func(s *Status) { s.PID = 0; s.LastExitCode = code })
		r.answerFirst(fmt.Errorf("instance %d (pid %d): %w", r.i.spec.Port, pid, errStoppedBeforeReady))
		return true
	}
	if !wasReady {
		return r.startFailed(pid, code, r.startFailure(err))
	}
	cause := "exited: " + exitCause(err).Error()
	r.i.log.Warn(cause)
	r.recordExit(code, cause)
	return r.restart(pid, reason)
}

// endChild lets go of the current process, which has exited, and of what
// was about it: its probe, notify socket, watch and kill timer. It
// returns the process's pid.
func (r *runner) endChild() int {
	if r.cancelProbe != nil {
		r.cancelProbe()
	}
	r.closeReady()
	pid := r.child.PID()
	r.ended(pid)
	if p, ok := r.child.(*process); ok && p.ended != "" {
		r.i.log.Warn(p.ended) // what the process left running, ended before its exit came here
	}
	r.child, r.probeDone, r.killAt = nil, nil, nil
	return pid
}

// startFailed handles a start that never became ready: the process pid
// exited first (with code), or was never spawned (pid 0). It records
// cause, answers Start with a *StartError, and restarts or gives up; it
// reports whether the runner is done.
func (r *runner) startFailed(pid, code int, cause error) bool {
	r.i.log.Warn(cause.Error())
	r.recordExit(code, cause.Error())
	if r.first != nil {
		err := &StartError{Port: r.i.spec.Port, PID: pid, Output: strings.TrimSpace(r.i.Output()), Err: cause}
		if r.mode == GiveUp {
			r.fail(nil) // before answering: Start's caller sees state failed
			r.answerFirst(err)
			return true
		}
		r.answerFirst(err)
	}
	return r.restart(pid, "not-ready")
}

// recordExit publishes how the last run ended.
func (r *runner) recordExit(code int, cause string) {
	r.i.mu.Lock()
	r.i.status.LastExitCode, r.i.status.LastError = code, cause
	r.i.mu.Unlock()
}

// startFailure says why a process never became ready.
func (r *runner) startFailure(err error) error {
	if r.notReady != nil {
		return r.notReady
	}
	cause := fmt.Errorf("exited before ready: %w", exitCause(err))
	if r.i.spec.Listener != nil && strings.Contains(strings.ToLower(r.i.Output()), "address already in use") {
		// The app tried to bind the port that hellomgr holds for it.
		cause = fmt.Errorf("%w; with reload.handoff: socket hellomgr holds the port and passes it as fd 3 (LISTEN_FDS=1): make the app accept on it, or set reload.handoff: none", cause)
	}
	return cause
}

// restart schedules the next start after the process pid ended for
// reason, or gives up; it reports whether the runner is done.
func (r *runner) restart(pid int, reason string) bool {
	done := r.scheduleRestart(reason)
	if !done {
		r.restarting(pid, reason)
	}
	return done
}

// scheduleRestart moves to backoff, or to failed when the tries are used
// up, and reports whether the runner is done.
func (r *runner) scheduleRestart(reason string) bool {
	b := r.i.spec.Restart
	if !r.readyAt.IsZero() && time.Since(r.readyAt) >= b.ResetAfter {
		r.fails = 0
	}
	r.readyAt = time.Time{}
	r.fails++
	if b.MaxTries > 0 && r.fails >= b.MaxTries {
		r.fail(func(s *Status) {
			s.LastError = fmt.Sprintf("gave up after %d failed starts in a row: %s", r.fails, s.LastError)
		})
		r.answerFirst(fmt.Errorf("instance %d: gave up after %d failed starts", r.i.spec.Port, r.fails))
		return true
	}
	delay := backoffDelay(b, r.fails)
	r.i.setState(Backoff, func(s *Status) { s.PID = 0; s.addRestarts(nil, reason) })
	r.i.log.Info("restarting after backoff", "delay", delay, "reason", reason)
	r.restartAt = time.After(delay)
	return false
}

// fail enters state failed and tells whoever asked to know.
func (r *runner) fail(update func(*Status)) {
	r.i.setState(Failed, func(s *Status) {
		s.PID = 0
		if update != nil {
			update(s)
		}
	})
	if r.i.spec.OnFailed != nil {
		r.i.spec.OnFailed(r.i)
	}
}

// backoffDelay is Initial doubled for each failure after the first, capped at Max.
func backoffDelay(b RestartPolicy, fails int) time.Duration {
	d := b.Initial
	for n := 1; n < fails && d < b.Max; n++ {
		d *= 2
	}
	return min(d, b.Max)
}

// stop handles a stop request and reports whether the runner is done.
func (r *runner) stop(reply chan struct{}) bool {
	if r.child == nil {
		// In backoff, or after a spawn that failed: nothing to signal.
		r.i.setState(Stopped, func(s *Status) { s.PID = 0 })
		r.waiters = append(r.waiters, reply) // answered by finish
		r.answerFirst(fmt.Errorf("instance %d: %w", r.i.spec.Port, errStoppedBeforeReady))
		return true
	}
	r.waiters = append(r.waiters, reply)
	if len(r.waiters) > 1 {
		return false
	}
	r.i.setState(Stopping, nil)
	r.unwatch()
	// A probe that succeeds now is about a process on its way out: its
	// verdict no longer matters, and Stopping cannot become Ready.
	if r.cancelProbe != nil {
		r.cancelProbe()
	}
	r.probeDone = nil
	if err := r.child.Stop(r.i.spec.StopSignal); err != nil {
		r.i.log.Warn(err.Error())
	}
	r.killAt = time.After(r.i.spec.StopTimeout)
	return false
}

func (r *runner) answerFirst(err error) {
	if r.first != nil {
		r.first <- err
		r.first = nil
	}
}
