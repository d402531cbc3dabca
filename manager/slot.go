package manager

import (
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/instance"
)

// slot is one port: its current instance, and what outlives instances.
type slot struct {
	port     int
	inst     *instance.Instance
	listener *os.File // the port's socket under handoff "socket", else nil
	logFile  io.WriteCloser
	output   io.Writer
	reloads  uint64
	held     bool // stopped for maintenance: stays stopped across reloads
}

// With no console to echo to (`up -d`, or systemd's StandardOutput=null),
// the instances write straight into their log files: the manager copies
// nothing, however much they log, and rotates the files by copy and
// truncate (rotateLogs). Echoing to a console needs a copy through the
// manager, which writes the file itself, rotated by lumberjack.
func (m *Manager) newSlot(port int, listener *os.File) (*slot, error) {
	if m.console == nil {
		f, err := openDirect(m.cfg.Logs, port)
		if err != nil {
			return nil, err
		}
		return &slot{port: port, listener: listener, logFile: f, output: f}, nil
	}
	f, err := openLog(m.cfg.Logs, port, m.log)
	if err != nil {
		return nil, err
	}
	output := io.MultiWriter(f, m.console.writer(port))
	return &slot{port: port, listener: listener, logFile: f, output: output}, nil
}

// spec builds the instance spec for a slot under cfg.
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
	return instance.Spec{
		Port:        s.port,
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
		Output:   s.output,
		OnFailed: m.onFailed(s),
		Cgroup:   cgroupTree(cfg),
	}
}

// onFailed closes a port's shared socket when its instance gives up, so
// connects are refused (and nginx fails over at once) instead of waiting
// in a queue no process will ever accept from. A later start, restart or
// reload binds the port again.
func (m *Manager) onFailed(s *slot) func(*instance.Instance) {
	return func(i *instance.Instance) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if s.inst == i && s.listener != nil {
			s.closeListener()
			m.log.Warn("instance failed; its port is closed until it is started again", "port", s.port)
		}
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
	env = append(env, cfg.Env...)
	return append(env, "PORT="+strconv.Itoa(port))
}

func (s *slot) close() {
	s.closeListener()
	s.logFile.Close()
}

func (s *slot) closeListener() {
	if s.listener != nil {
		s.listener.Close()
		s.listener = nil
	}
}

func (m *Manager) slot(port int) (*slot, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.slots[port]
	return s, ok
}
