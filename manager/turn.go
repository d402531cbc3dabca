package manager

import (
	"context"
	"errors"
	"fmt"
)

// ErrShuttingDown refuses a rollout once the manager has begun to stop.
var ErrShuttingDown = errors.New("the manager is shutting down (hellomgr down, or a stop signal)")

// beginRollout takes the manager's one rollout turn: a reload, restart,
// stop or start of ports. It returns a context that ends with ctx or when
// the manager shuts down, whichever comes first, and the function that
// gives the turn back. Only one rollout runs at a time, and none once
// EndRollouts has been called.
func (m *Manager) beginRollout(ctx context.Context) (context.Context, func(), error) {
	if !m.rollout.TryLock() {
		if m.life.Err() != nil {
			return nil, nil, ErrShuttingDown
		}
		return nil, nil, ErrReloadInProgress
	}
	if m.life.Err() != nil {
		m.rollout.Unlock()
		return nil, nil, ErrShuttingDown
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(m.life, cancel)
	return ctx, func() {
		stop()
		cancel()
		m.rollout.Unlock()
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
	m.endRolloutsOnce.Do(func() { m.rollout.Lock() }) // never unlocked: no rollout after this
}

// stoppedByShutdown explains a rollout error caused by the manager
// shutting down, which would otherwise read as a failed start.
func (m *Manager) stoppedByShutdown(err error) error {
	if err == nil || m.life.Err() == nil {
		return err
	}
	return fmt.Errorf("%w: %v", ErrShuttingDown, err)
}
