package manager

import (
	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/instance"
)

// The set of ports has one owner, the goroutine of portSet.run, as
// instance/ gives each child one. The running config and each slot's
// instance, shared socket, reload count and maintenance mark are its
// alone: everyone else sends it a request (do) whose reply channel it
// closes once the request has run. A request only reads or swaps what
// the owner holds (instance.Status takes nothing but the instance's own
// lock), so the owner answers at once, and stopping or starting an
// instance always happens outside it.
//
// A slot taken out of the set (removed by a reload, or by Shutdown)
// belongs to whoever took it out.
type portSet struct {
	reqs chan request
}

type request struct {
	fn    func(*portTable)
	reply chan struct{}
}

// portTable is what the owner holds.
type portTable struct {
	cfg   *config.Config
	slots map[int]*slot
}

// newPortSet starts the owner of a set with cfg and no slots. It runs for
// as long as the program: a manager lives once per process.
func newPortSet(cfg *config.Config) *portSet {
	p := &portSet{reqs: make(chan request)}
	go p.run(&portTable{cfg: cfg, slots: map[int]*slot{}})
	return p
}

func (p *portSet) run(t *portTable) {
	for req := range p.reqs {
		req.fn(t)
		close(req.reply)
	}
}

// do runs fn on the owner and returns once it has. fn must not call do.
func (p *portSet) do(fn func(*portTable)) {
	reply := make(chan struct{})
	p.reqs <- request{fn: fn, reply: reply}
	<-reply
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
