package instance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"
)

// runner is the owner goroutine of an instance for one stretch of life,
// from Start until the instance is stopped or failed. All its fields belong
// to that goroutine alone.
type runner struct {
	i       *Instance
	mode    StartMode
	first   chan<- error // answered once, when the first start succeeds or fails
	adopted *adoption    // set by Adopt: the process to begin with instead of a start

	child       *process
	probeDone   chan error
	cancelProbe context.CancelFunc
	notReady    error        // set when the probe gave up on the current process
	readySock   *readySocket // the current process's NOTIFY_SOCKET, if readiness is READY=1

	restartAt <-chan time.Time
	killAt    <-chan time.Time
	waiters   []chan struct{} // stop requests to answer when the process is gone

	fails   int // unasked exits in a row, of runs shorter than ResetAfter
	readyAt time.Time
	watch   *watch // liveness and memory of the ready process (liveness.go)
}

// run is the instance's event loop: one select over the process's exit, its
// probe, the backoff and kill timers, and stop requests.
func (r *runner) run() {
	defer func() { r.i.finish(r.waiters) }()
	if r.adopted != nil {
		r.resume(r.adopted)
	} else {
		r.start()
	}
	for {
		var exited chan error
		if r.child != nil {
			exited = r.child.exited
		}
		select {
		case err := <-r.probeDone:
			r.probed(err)
		case err := <-exited:
			if r.exited(err) {
				return
			}
		case <-r.restartAt:
			r.restartAt = nil
			r.start()
		case <-r.killAt:
			r.killAt = nil
			r.i.log.Warn("did not stop in time, sending SIGKILL", "timeout", r.i.spec.StopTimeout)
			r.child.kill() // its group and its whole cgroup
		case reply := <-r.i.stops:
			if r.stop(reply) {
				return
			}
		case req := <-r.i.freezes:
			r.freeze(req)
		}
	}
}

// start spawns a process and its readiness probe. A spawn that fails (the
// executable is missing, say) counts as a run that ended at once.
func (r *runner) start() {
	r.notReady = nil
	var extraEnv []string
	ns, err := r.listenReady()
	if ns != nil {
		extraEnv = []string{"NOTIFY_SOCKET=" + ns.name}
	}
	var p *process
	if err == nil {
		p, err = spawn(&r.i.spec, r.i.out, extraEnv)
	}
	r.i.setState(Starting, func(s *Status) { s.PID = 0 })
	if err != nil {
		r.closeReady()
		r.child = &process{exited: make(chan error, 1)}
		r.child.exited <- err
		r.notReady = err
		return
	}
	r.child = p
	r.started(p)
	r.i.setState(Starting, func(s *Status) { s.PID = p.pid(); s.StartTime = time.Now() })
	ctx, cancel := context.WithTimeout(context.Background(), r.i.spec.Probe.Timeout)
	r.cancelProbe = cancel
	done := make(chan error, 1)
	r.probeDone = done
	if ns != nil {
		go ns.serve(p.pid())
		go func() { done <- ns.wait(ctx) }()
		return
	}
	go func() { done <- r.i.spec.Probe.wait(ctx, r.i.spec.Port) }()
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
	r.notReady = fmt.Errorf("not ready within %s: %v", r.i.spec.Probe.Timeout, err)
	if errors.Is(err, errNoReady) {
		r.notReady = fmt.Errorf("%w (%s): does the app use NOTIFY_SOCKET? ready.notify: true waits for it", err, r.i.spec.Probe.Timeout)
	}
	r.child.kill()
}

// exited handles the end of the current process and reports whether the
// runner is done.
func (r *runner) exited(err error) bool {
	if r.cancelProbe != nil {
		r.cancelProbe()
	}
	r.closeReady()
	pid := r.child.pid()
	r.ended(pid)
	if r.child.ended != "" { // what the process left running, ended before its exit came here
		r.i.log.Warn(r.child.ended)
	}
	wasReady := r.i.Status().State == Ready
	// Reap anything the child left in its group.
	if pid > 0 {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
	r.child, r.probeDone, r.killAt = nil, nil, nil
	reason, code := exitReason(err)
	if len(r.waiters) > 0 {
		// The waiters are answered by finish, once a Start may begin anew.
		r.i.setState(Stopped, func(s *Status) { s.PID = 0; s.LastExitCode = code })
		r.answerFirst(fmt.Errorf("instance %d (pid %d): %w", r.i.spec.Port, pid, errStoppedBeforeReady))
		return true
	}
	cause := fmt.Sprintf("exited: %s", describeExit(err))
	if !wasReady {
		cause = r.startFailure(pid, err)
		reason = "not-ready"
	}
	r.i.log.Warn(cause)
	r.i.mu.Lock()
	r.i.status.LastExitCode, r.i.status.LastError = code, cause
	r.i.mu.Unlock()
	if !wasReady && r.first != nil {
		err := r.startError(pid, cause)
		if r.mode == GiveUp {
			r.fail(nil) // before answering: Start's caller sees state failed
			r.answerFirst(err)
			return true
		}
		r.answerFirst(err)
	}
	done := r.scheduleRestart(reason)
	if !done {
		r.restarting(pid, reason)
	}
	return done
}

// startFailure says why a process never became ready.
func (r *runner) startFailure(pid int, err error) string {
	if r.notReady != nil {
		return r.notReady.Error()
	}
	cause := "exited before ready: " + describeExit(err)
	if r.i.spec.Listener != nil && strings.Contains(strings.ToLower(r.i.Output()), "address already in use") {
		// The app tried to bind the port that hellomgr holds for it.
		cause += "; with reload.handoff: socket hellomgr holds the port and passes it as fd 3 (LISTEN_FDS=1): make the app accept on it, or set reload.handoff: none"
	}
	return cause
}

// startError is the error Start returns: port, pid, cause and the last
// lines of output, so the user sees why without opening the log.
func (r *runner) startError(pid int, cause string) error {
	msg := fmt.Sprintf("instance %d", r.i.spec.Port)
	if pid > 0 {
		msg += fmt.Sprintf(" (pid %d)", pid)
	}
	msg += " " + cause
	if out := strings.TrimSpace(r.i.Output()); out != "" {
		msg += "\nlast output:\n  " + strings.ReplaceAll(out, "\n", "\n  ")
	}
	return fmt.Errorf("%s", msg)
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
	r.i.setState(Backoff, func(s *Status) { s.PID = 0; s.Restarts[reason]++ })
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
	if r.child == nil || r.child.cmd == nil {
		// In backoff (or a spawn that failed): nothing to signal.
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
	if err := r.child.stopGroup(r.i.spec.StopSignal); err != nil {
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
