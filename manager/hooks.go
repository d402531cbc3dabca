package manager

import (
	"github.com/hellomgr/hellomgr/config"
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

// runHook runs the hook kind of cfg, if it sets one, for event e on s,
// without waiting for it.
func (m *Manager) runHook(cfg *config.Config, s *slot, kind hookKind, e hooks.Event) {
	c := hooks.Command{Name: "on_restart", Argv: cfg.Hooks.OnRestart, Dir: cfg.Dir, Timeout: cfg.Hooks.Timeout, Log: m.log}
	q := &s.hooks.restart
	if kind == hookFailed {
		c.Name, c.Argv, q = "on_failed", cfg.Hooks.OnFailed, &s.hooks.failed
	}
	q.Run(c, e)
}
