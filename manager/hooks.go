package manager

import (
	"context"
	"fmt"
	"time"

	"github.com/hellomgr/hellomgr/hooks"
)

// hookKind names one of the hooks a config can set.
type hookKind uint8

const (
	hookFailed  hookKind = iota // hooks.on_failed: the instance gave up
	hookRestart                 // hooks.on_restart: restarted unasked (an exit, liveness, memory)
)

// portHooks are a port's hook queues: at most one command of each hook
// runs per port (see hooks.Queue). They outlive the port's instances.
type portHooks struct {
	failed, restart hooks.Queue
}

// hookGrace is how long a hook still running when the manager exits or
// replaces its program may go on (a webhook in flight) before it is
// killed with what it started.
const hookGrace = 2 * time.Second

// endHooks ends every hook still running, with what it started, and
// starts no other until resumeHooks: call it once the instances have
// stopped in Shutdown, and just before the exec of an upgrade. Each hook
// it had to kill says so in the log; so does this.
func (m *Manager) endHooks() {
	ctx, cancel := context.WithTimeout(context.Background(), hookGrace)
	defer cancel()
	switch n := m.hooks.EndAll(ctx); n {
	case 0:
	case 1:
		m.log.Warn(fmt.Sprintf("ended 1 hook still running after %s", hookGrace))
	default:
		m.log.Warn(fmt.Sprintf("ended %d hooks still running after %s", n, hookGrace))
	}
}

// resumeHooks lets hooks run again after endHooks: an upgrade whose exec
// failed, whose manager runs on.
func (m *Manager) resumeHooks() { m.hooks.Resume() }
