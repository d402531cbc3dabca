package manager

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrShuttingDown refuses a rollout once the manager has begun to stop.
var ErrShuttingDown = errors.New("the manager is shutting down (hellomgr down, or a stop signal)")

// ErrBusy is what a BusyError is: another rollout holds the turn.
var ErrBusy = errors.New("another change is in progress")

// BusyError refuses a rollout while another one holds the turn, saying
// which: two rollouts interleaved would replace the same port twice.
type BusyError struct{ Holder string }

func (e *BusyError) Error() string {
	return e.Holder + " is in progress; try again when it has finished"
}

func (e *BusyError) Unwrap() error { return ErrBusy }

// turn is the manager's one rollout turn: a reload, restart, stop or
// start of ports, an upgrade, the replacement of an unhealthy instance.
// Its fields are guarded by mu; nothing waits while holding it.
type turn struct {
	mu     sync.Mutex
	gone   *sync.Cond // signalled when the holder gives the turn back
	holder string     // what holds the turn ("a reload"), "" when free
	closed bool       // EndRollouts was called: no rollout after this
	// reloadAfter is a reload asked for (SIGHUP) while an upgrade held
	// the turn: carried out once it is over, by whichever program runs.
	reloadAfter bool
}

func newTurn() *turn {
	t := &turn{}
	t.gone = sync.NewCond(&t.mu)
	return t
}

// take takes the turn for what, or says why not.
func (t *turn) take(what string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return ErrShuttingDown
	case t.holder != "":
		return &BusyError{Holder: t.holder}
	}
	t.holder = what
	return nil
}

func (t *turn) give() {
	t.mu.Lock()
	t.holder = ""
	t.gone.Broadcast()
	t.mu.Unlock()
}

// close refuses every later take, and waits until the holder, if any,
// has given the turn back.
func (t *turn) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for t.holder != "" {
		t.gone.Wait()
	}
}

// askReloadAfter records a reload asked for while the turn is taken by
// an upgrade, and reports whether it was recorded (false: the turn is
// free, or held by something else, and the caller reloads as usual).
func (t *turn) askReloadAfter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.holder != holderUpgrade {
		return false
	}
	t.reloadAfter = true
	return true
}

// askReloadAfterAnyway records a reload to carry out after the rollout in
// progress: an upgrade gives back the one it took when its exec failed.
func (t *turn) askReloadAfterAnyway() {
	t.mu.Lock()
	t.reloadAfter = true
	t.mu.Unlock()
}

// takeReloadAfter returns, and clears, a reload recorded by askReloadAfter.
func (t *turn) takeReloadAfter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.reloadAfter
	t.reloadAfter = false
	return r
}

const holderUpgrade = "an upgrade"

// beginRollout takes the turn for what. It returns a context that ends
// with ctx or when the manager shuts down, whichever comes first, and the
// function that gives the turn back. Only one rollout runs at a time, and
// none once EndRollouts has been called.
func (m *Manager) beginRollout(ctx context.Context, what string) (context.Context, func(), error) {
	if err := m.turn.take(what); err != nil {
		return nil, nil, err
	}
	if m.life.Err() != nil {
		m.turn.give()
		return nil, nil, ErrShuttingDown
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(m.life, cancel)
	return ctx, func() {
		stop()
		cancel()
		m.turn.give()
	}, nil
}

// EndRollouts cancels the rollout in progress, if any, waits until it has
// put every port it touched in a known state (the new instance ready, or
// the previous one back, or the port stopped) and returned, and refuses
// every later one with ErrShuttingDown. Shutdown calls it first; the owner
// of the control socket calls it before closing the socket, so that a
// client watching a reload hears why it stopped. Safe to call more than
// once, and from several goroutines.
func (m *Manager) EndRollouts() {
	m.endLife()
	m.turn.close()
}

// stoppedByShutdown explains a rollout error caused by the manager
// shutting down, which would otherwise read as a failed start.
func (m *Manager) stoppedByShutdown(err error) error {
	if err == nil || m.life.Err() == nil {
		return err
	}
	return fmt.Errorf("%w: %v", ErrShuttingDown, err)
}
