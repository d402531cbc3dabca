package manager

import (
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/logs"
)

// slot is one port: its current instance, and what outlives instances.
// port, log and hooks are set once and safe to use anywhere; the other
// fields belong to the owner of the set (portset.go) while the slot is in
// it.
type slot struct {
	port  int
	log   *logs.Log // outlives the port's processes
	hooks portHooks // the port's hook queues (hooks.go)

	inst      *instance.Instance
	listener  *os.File // the port's socket under handoff "socket", else nil
	reloads   uint64
	held      bool // stopped for maintenance: stays stopped across reloads
	unhealthy int  // unhealthy replacements in a row (health.go)
	waiting   bool // handed over by an upgrade with no process to adopt, in backoff or gone: Resumed starts it
}

// newSlot opens the port's log (every process on the port writes into a
// pipe the log takes, logs.Log.Take, whether or not a console or the
// journal also gets the lines) and gives the slot a stopped instance.
func (m *Manager) newSlot(cfg *config.Config, port int, listener *os.File) (*slot, error) {
	l, err := openLog(cfg.Logs, port, m.sinks, m.log)
	if err != nil {
		return nil, err
	}
	s := &slot{port: port, listener: listener, log: l}
	s.inst = instance.New(m.spec(cfg, s), m.log) // a slot always has an instance: stopped until started
	return s, nil
}

// memorySlot is a slot whose log keeps the last lines in memory only: a
// program gone back to after a failed upgrade, when the log file cannot
// be opened (see Resume).
func (m *Manager) memorySlot(cfg *config.Config, port int, listener *os.File) *slot {
	s := &slot{port: port, listener: listener, log: logs.Memory()}
	s.inst = instance.New(m.spec(cfg, s), m.log)
	return s
}

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

func (s *slot) close() {
	s.closeListener()
	s.log.Close()
}

func (s *slot) closeListener() {
	if s.listener != nil {
		s.listener.Close()
		s.listener = nil
	}
}

func (m *Manager) slotOf(port int) (*slot, bool) {
	var s *slot
	m.ports.do(func(t *portTable) { s = t.slots[port] })
	return s, s != nil
}

// LogDropped returns how many lines of port's instances were lost because
// its log could not take them (a full disk, a removed folder, a journal
// that refused them), and whether port is one the manager runs.
func (m *Manager) LogDropped(port int) (uint64, bool) {
	s, ok := m.slotOf(port)
	if !ok {
		return 0, false
	}
	return s.log.Dropped(), true
}
