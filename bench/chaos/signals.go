package main

import (
	"fmt"
	"syscall"
	"time"
)

// sendSignal sends sig to the manager, then gives it 1-3 s to act on it
// (a reload, an upgrade) before the run checks it.
func sendSignal(sig syscall.Signal) func(r *run, m *manager, w *window) bool {
	return func(r *run, m *manager, w *window) bool {
		syscall.Kill(m.proc.PID, sig)
		sleep(r.ctx, between(r.rng, time.Second, 3*time.Second))
		return true
	}
}

// signalPairs are the second signals that meet the exec window of an
// upgrade, or a reload, in issue 20's defect 4.
var signalPairs = [][2]syscall.Signal{
	{syscall.SIGUSR2, syscall.SIGUSR2},
	{syscall.SIGUSR2, syscall.SIGHUP},
	{syscall.SIGHUP, syscall.SIGUSR2},
	{syscall.SIGHUP, syscall.SIGHUP},
	{syscall.SIGUSR2, syscall.SIGTERM},
	{syscall.SIGHUP, syscall.SIGTERM},
}

// twoSignals sends two signals 5-30 ms apart. One that ends with SIGTERM
// must stop the manager gracefully (it is then started again); the others
// must leave it running.
func twoSignals(r *run, m *manager, w *window) bool {
	pair := signalPairs[r.rng.IntN(len(signalPairs))]
	gap := between(r.rng, 5*time.Millisecond, 30*time.Millisecond)
	w.detail = fmt.Sprintf("%s then %s %s later", sigName(pair[0]), sigName(pair[1]), gap.Round(time.Millisecond))
	pid := m.proc.PID
	syscall.Kill(pid, pair[0])
	time.Sleep(gap)
	syscall.Kill(pid, pair[1])
	if pair[1] == syscall.SIGTERM {
		w.costly = true // the service stops until it is started again
		r.restartAfterTerm(m, w)
		return true
	}
	sleep(r.ctx, between(r.rng, time.Second, 3*time.Second))
	return true
}

// termThenUp stops the manager with SIGTERM, as systemd does, and starts
// it again with `up -d`.
func termThenUp(r *run, m *manager, w *window) bool {
	w.costly = true
	syscall.Kill(m.proc.PID, syscall.SIGTERM)
	r.restartAfterTerm(m, w)
	return true
}

// restartAfterTerm waits up to a minute for the manager to stop after a
// SIGTERM, then starts it again. A manager that did not stop is a
// violation; it is stopped with `down`, then SIGKILL.
func (r *run) restartAfterTerm(m *manager, w *window) {
	if !r.waitGone(m, time.Minute) {
		if r.ctx.Err() != nil {
			return // the run is ending: its cleanup stops the manager
		}
		r.violation(w, "%s: manager (pid %d) still running a minute after SIGTERM", m.name, m.proc.PID)
		m.hellomgr(r.ctx, time.Minute, "down")
		m.proc.Stop(syscall.SIGTERM, 10*time.Second)
	}
	r.collectPanics(m, w)
	if err := m.up(r.ctx); err != nil {
		r.violation(w, "%s: manager cannot start again after SIGTERM: %v", m.name, err)
	}
}

// editDuringUpgrade starts `hellomgr upgrade` and edits the config 0-40 ms
// later (the instances' environment changes), then rolls the edit out with
// a reload once the upgrade has answered.
func editDuringUpgrade(r *run, m *manager, w *window) bool {
	delay := between(r.rng, 0, 40*time.Millisecond)
	w.detail = fmt.Sprintf("edit %s after the upgrade began", delay.Round(time.Millisecond))
	done := make(chan error, 1)
	var upgradeOut string
	go func() {
		var err error
		upgradeOut, err = m.hellomgr(r.ctx, 3*time.Minute, "upgrade")
		done <- err
	}()
	time.Sleep(delay)
	m.gen++
	if err := m.writeConfig(r.root); err != nil {
		r.violation(w, "%s: write config: %v", m.name, err)
	}
	if err := <-done; err != nil {
		w.failedCmd = fmt.Sprintf("hellomgr upgrade: %v: %s", err, firstLines(upgradeOut, 3))
	}
	r.cmd(m, w, 3*time.Minute, "reload")
	return true
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGUSR2:
		return "SIGUSR2"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// waitGone waits up to limit for the manager to exit, or for the run to
// end (Ctrl-C); it reports whether the manager exited.
func (r *run) waitGone(m *manager, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for m.proc.Alive() {
		if time.Now().After(deadline) || r.ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
