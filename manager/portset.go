package manager

import (
	"sync"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/instance"
)

// The set of ports is a table guarded by a mutex, as blackbox_exporter
// guards its config: the running config and each slot's instance, shared
// socket, reload count and maintenance mark are read and written only
// under it, through do. What runs under it only reads or swaps what the
// table holds (instance.Status takes nothing but the instance's own
// lock): stopping or starting an instance, probing or any other wait
// always happens outside it.
//
// A slot taken out of the set (removed by a reload, or by Shutdown)
// belongs to whoever took it out.
type portSet struct {
	mu sync.Mutex
	t  portTable
}

// portTable is what the mutex guards.
type portTable struct {
	cfg   *config.Config
	slots map[int]*slot
}

func newPortSet(cfg *config.Config) *portSet {
	return &portSet{t: portTable{cfg: cfg, slots: map[int]*slot{}}}
}

// do runs fn with the table, under the mutex. fn must not call do, nor
// wait for anything.
func (p *portSet) do(fn func(*portTable)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(&p.t)
}

// Config returns the config the manager currently runs.
func (m *Manager) Config() *config.Config {
	var cfg *config.Config
	m.ports.do(func(t *portTable) { cfg = t.cfg })
	return cfg
}

func (m *Manager) setConfig(cfg *config.Config) {
	m.ports.do(func(t *portTable) { t.cfg = cfg })
}

// addSlot puts s, which its caller built, into the set.
func (m *Manager) addSlot(s *slot) {
	m.ports.do(func(t *portTable) { t.slots[s.port] = s })
}

// takeSlot takes port's slot out of the set: from then on it is the
// caller's.
func (m *Manager) takeSlot(port int) (*slot, bool) {
	var s *slot
	m.ports.do(func(t *portTable) {
		if s = t.slots[port]; s != nil {
			delete(t.slots, port)
		}
	})
	return s, s != nil
}

// instanceOn is the instance on port, or nil.
func (m *Manager) instanceOn(port int) *instance.Instance {
	var i *instance.Instance
	m.ports.do(func(t *portTable) {
		if s := t.slots[port]; s != nil {
			i = s.inst
		}
	})
	return i
}

// newInstance makes, without starting it, an instance for port under cfg:
// its spec needs the port's shared socket, which the owner holds.
func (m *Manager) newInstance(cfg *config.Config, port int) *instance.Instance {
	var spec instance.Spec
	m.ports.do(func(t *portTable) { spec = m.spec(cfg, t.slots[port]) })
	return instance.New(spec, m.log)
}

// installNew makes a new instance for port under cfg the port's
// instance at once, before it starts: a start that must be seen (and
// stopped by Shutdown) even while it has not become ready.
func (m *Manager) installNew(cfg *config.Config, port int) *instance.Instance {
	var i *instance.Instance
	m.ports.do(func(t *portTable) {
		s := t.slots[port]
		i = instance.New(m.spec(cfg, s), m.log)
		s.inst = i
	})
	return i
}

// setInstance makes i port's instance, counting a reload when reloaded,
// and returns the one it replaces.
func (m *Manager) setInstance(port int, i *instance.Instance, reloaded bool) (prev *instance.Instance) {
	m.ports.do(func(t *portTable) {
		s := t.slots[port]
		prev, s.inst = s.inst, i
		if reloaded {
			s.reloads++
		}
	})
	return prev
}

// matchHandoff opens or closes port's shared socket to match cfg's
// reload.handoff (see slot.matchHandoff).
func (m *Manager) matchHandoff(port int, cfg *config.Config) error {
	var err error
	m.ports.do(func(t *portTable) { err = t.slots[port].matchHandoff(cfg) })
	return err
}

// closeListener closes port's shared socket, so that connects are refused
// while no instance runs there.
func (m *Manager) closeListener(port int) {
	m.ports.do(func(t *portTable) { t.slots[port].closeListener() })
}
