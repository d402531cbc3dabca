package manager

import (
	"os"

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
