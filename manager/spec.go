package manager

// What each instance is given: its spec (the command, environment, socket,
// probes, limits and cgroup the config says) and the callbacks through
// which it tells the manager of its life: a failed start, an unhealthy
// process, a restart, each one running the hooks the config names.

import (
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/hooks"
	"github.com/hellomgr/hellomgr/instance"
)

// spec builds the instance spec for a slot under cfg. It runs on the
// owner of the set (it reads the slot's shared socket).
func (m *Manager) spec(cfg *config.Config, s *slot) instance.Spec {
	env := childEnv(cfg, s.port)
	var listener *os.File
	if cfg.Reload.Handoff == config.HandoffSocket && s.listener != nil {
		listener = s.listener
		env = append(env, "LISTEN_FDS=1", "LISTEN_FDNAMES=http")
	}
	probe := instance.Probe{Timeout: cfg.Ready.Timeout, Interval: cfg.Ready.Interval, Notify: cfg.Ready.Notify}
	if cfg.Ready.Kind == config.ProbeHTTP {
		probe.HTTPPath = cfg.Ready.Path
	}
	host, _ := netip.ParseAddr(cfg.Address) // "" (every interface): the zero Addr
	return m.withHealth(cfg, s, instance.Spec{
		Port:        s.port,
		Host:        host,
		Argv:        cfg.Argv(s.port, m.opts.Self),
		Dir:         cfg.WorkDir,
		Env:         env,
		Listener:    listener,
		Probe:       probe,
		StopSignal:  cfg.Stop.Signal,
		StopTimeout: cfg.Stop.Timeout,
		Restart: instance.RestartPolicy{
			Initial: cfg.Restart.Backoff, Max: cfg.Restart.MaxBackoff,
			ResetAfter: cfg.Restart.ResetAfter, MaxTries: cfg.Restart.MaxTries,
		},
		Output:   s.log,
		OnFailed: m.onFailed(s),
		Cgroup:   m.cgroups,
		Launch:   m.launch,
	}) // liveness, limits.memory and hooks: health.go
}

// onFailed closes a port's shared socket when its instance gives up, so
// connects are refused (and nginx fails over at once) instead of waiting
// in a queue no process will ever accept from. A later start, restart or
// reload binds the port again.
func (m *Manager) onFailed(s *slot) func(*instance.Instance) {
	return func(i *instance.Instance) {
		m.ports.do(func(t *portTable) {
			if t.slots[s.port] == s && s.inst == i && s.listener != nil {
				s.closeListener()
				m.log.Warn("instance failed; its port is closed until it is started again", "port", s.port)
			}
		})
	}
}

// childEnv is the manager's environment, minus what belongs to the
// manager's own supervisor (systemd's notify socket and passed sockets),
// plus the config's env and PORT.
func childEnv(cfg *config.Config, port int) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "PORT":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, cfg.DrainEnv()...) // stop.timeout, stop.spread, stop.close_code: python/hellomgr_tornado
	env = append(env, cfg.Env...)
	return append(env, "PORT="+strconv.Itoa(port))
}

// withHealth adds to spec, the spec of an instance on s under cfg, what
// looks after it once ready and the hooks.
func (m *Manager) withHealth(cfg *config.Config, s *slot, spec instance.Spec) instance.Spec {
	if l := cfg.Liveness; l.On() {
		spec.Liveness = instance.Liveness{Interval: l.Interval, Timeout: l.Timeout, Failures: l.Failures}
		if l.Kind == config.ProbeHTTP {
			spec.Liveness.HTTPPath = l.Path
		}
	}
	spec.MemoryLimit = cfg.Limits.MemoryBytes
	spec.OnUnhealthy = m.onUnhealthy(cfg, s)
	spec.OnRestart = func(i *instance.Instance, pid int, reason string) {
		st := i.Status()
		m.runHook(cfg, s, hookRestart, hooks.Event{Port: s.port, PID: pid, State: st.State.String(), Reason: reason, LastExit: &st.LastExitCode})
	}
	onFailed := spec.OnFailed
	spec.OnFailed = func(i *instance.Instance) {
		if onFailed != nil {
			onFailed(i)
		}
		if !m.isCurrent(s, i) {
			return // a new instance of a rollout that did not start: the old one serves on
		}
		st := i.Status()
		m.runHook(cfg, s, hookFailed, hooks.Event{Port: s.port, State: st.State.String(), Reason: "gave-up", LastExit: &st.LastExitCode})
	}
	return spec
}

// onUnhealthy returns the OnUnhealthy of one instance on s: it replaces
// the instance on a goroutine of its own, one replacement at a time.
func (m *Manager) onUnhealthy(cfg *config.Config, s *slot) func(*instance.Instance, string) {
	var busy atomic.Bool
	return func(i *instance.Instance, reason string) {
		m.noteUnhealthy(s.port, reason) // a canary that fails this fails its watch
		if !busy.CompareAndSwap(false, true) {
			return // already being replaced
		}
		m.replacing.Go(func() {
			defer busy.Store(false)
			m.replaceUnhealthy(cfg, s, i, reason)
		})
	}
}

// runHook runs the hook kind of cfg, if it sets one, for event e on s,
// without waiting for it. The hook runs in a cgroup of its own under the
// manager's tree when there is one, as instances do.
func (m *Manager) runHook(cfg *config.Config, s *slot, kind hookKind, e hooks.Event) {
	c := hooks.Command{Name: "on_restart", Argv: cfg.Hooks.OnRestart, Dir: cfg.Dir, Timeout: cfg.Hooks.Timeout, Log: m.log, Set: &m.hooks}
	q := &s.hooks.restart
	if kind == hookFailed {
		c.Name, c.Argv, q = "on_failed", cfg.Hooks.OnFailed, &s.hooks.failed
	}
	c.Cgroup = m.cgroups
	q.Run(c, e)
}
