package manager

// The new program's side of an upgrade: taking over what the old program
// handed over (Resume, Resumed), or going back to it (RollBack).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/notify"
	"golang.org/x/sys/unix"
)

// RollBack is what a new program that cannot take over does: it execs
// the program that handed over (st.ProgramFD), with the same state and
// the reason, so that the old manager runs on and tells whoever asked
// for the upgrade. It returns only when that exec failed too.
func RollBack(st *UpgradeState, stateFD int, cause error) error {
	st.Error = cause.Error()
	st.Upgrades--
	data, err := json.Marshal(st)
	if err == nil {
		err = writeAll(stateFD, data)
	}
	if err == nil {
		path := fmt.Sprintf("/proc/self/fd/%d", st.ProgramFD)
		argv := []string{path, "up", "-c", st.Config, "--upgrade-fd", strconv.Itoa(stateFD)}
		err = execKeeping(path, argv, append(st.FDs(), stateFD))
	}
	return fmt.Errorf("could not take over (%v), nor go back to the previous program: %w", cause, err)
}

// Resume is Prepare and StartAll for a program that takes over from the
// previous one: it takes the lock, the listeners and the ports' sockets
// handed over in st, and adopts every running instance. It works on
// copies of the descriptors handed over, and leaves them open for
// RollBack until Resumed. An instance whose process is gone is left for
// Resumed to start anew.
//
// A program the new one went back to (st.Error set) must not go back
// again, which would loop: it resumes degraded instead. A log it cannot
// open keeps only the last lines in memory, the journal it cannot reach
// is left out, and status says so (Report.UpgradeErr).
func (m *Manager) Resume(st *UpgradeState) error {
	cfg := m.Config()
	m.degraded = st.Error != ""
	if err := st.matches(cfg); err != nil {
		return err
	}
	if st.ManagerPID != 0 && st.ManagerPID != os.Getpid() {
		return fmt.Errorf("this program (pid %d) is not the manager that handed over (pid %d), so the instances are not its children: was it started by a wrapper that does not exec hellomgr?", os.Getpid(), st.ManagerPID)
	}
	if err := m.takeListeners(st); err != nil {
		return err
	}
	var err error
	if m.sinks, err = m.logSinks(cfg); err != nil {
		if !m.degraded {
			return err
		}
		m.degrade("the instances' lines go to their files only", err)
	}
	m.openCgroups(cfg) // as the program before decided: the tree it used is there, or none is
	m.upgrades, m.upgradeErr = st.Upgrades, st.Error+m.upgradeErr
	for _, p := range st.Ports {
		if err := m.resumePort(cfg, p); err != nil {
			return err
		}
	}
	return nil
}

// matches refuses a state handed over for another config or ports.
func (st *UpgradeState) matches(cfg *config.Config) error {
	if st.Config != cfg.File {
		return fmt.Errorf("state of config %s handed over, this manager runs %s", st.Config, cfg.File)
	}
	var ports []int
	for _, p := range st.Ports {
		ports = append(ports, p.Port)
	}
	if !slices.Equal(ports, cfg.Ports) {
		return fmt.Errorf("ports %s handed over, the config lists %s", config.PortList(ports), config.PortList(cfg.Ports))
	}
	return nil
}

// takeListeners takes copies of the pid lock and the listeners handed
// over.
func (m *Manager) takeListeners(st *UpgradeState) error {
	lock, err := dupFile(st.LockFD, "pid lock")
	if err != nil {
		return err
	}
	m.lock = &pidLock{f: lock}
	if m.controlLn, err = fileListener(st.ControlFD); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if st.MetricsFD >= 0 {
		if m.metricsLn, err = fileListener(st.MetricsFD); err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
	}
	return nil
}

// resumePort puts port p back in the set as it was handed over, with its
// instance adopted if its process is still there.
func (m *Manager) resumePort(cfg *config.Config, p PortState) error {
	var listener *os.File
	var err error
	if p.ListenerFD >= 0 {
		if listener, err = dupFile(p.ListenerFD, "port "+strconv.Itoa(p.Port)); err != nil {
			return err
		}
	}
	s, err := m.newSlot(cfg, p.Port, listener)
	if err != nil && m.degraded {
		m.degrade(fmt.Sprintf("port %d: its output is kept in memory only (hellomgr logs shows the last lines)", p.Port), err)
		s, err = m.memorySlot(cfg, p.Port, listener), nil
	}
	if err != nil {
		return err
	}
	s.reloads, s.held = p.Reloads, p.Held
	switch {
	case p.Instance != nil:
		if i := m.adopt(cfg, s, p.Instance); i != nil {
			s.inst = i
		} else {
			s.waiting = true // its process is gone: started anew
		}
	case p.Rest != nil:
		s.inst = instance.Resting(m.spec(cfg, s), m.log, *p.Rest)
		s.waiting = p.Rest.Waiting()
	default: // handed over by a program that did not say
		s.waiting = true
	}
	m.addSlot(s)
	return nil
}

// adopt returns the instance h describes on s (not yet in the set), if
// its process is still there, else nil.
func (m *Manager) adopt(cfg *config.Config, s *slot, h *instance.Handover) *instance.Instance {
	copied := *h
	var err error
	if copied.OutputFD, err = dupFD(h.OutputFD); err == nil && h.NotifyFD >= 0 {
		if copied.NotifyFD, err = dupFD(h.NotifyFD); err != nil {
			unix.Close(copied.OutputFD)
		}
	}
	var i *instance.Instance
	if err == nil {
		i, err = instance.Adopt(m.spec(cfg, s), &copied, m.log)
	}
	if err != nil {
		m.log.Warn("not adopted; started anew", "port", s.port, "err", err)
	}
	return i
}

// Resumed ends a takeover once Resume has succeeded and the control
// socket is served: it closes the descriptors handed over (and stateFD),
// starts the instances that had no process to adopt (in backoff, or gone
// meanwhile; not failed ones, which stay failed with their counts as
// before the upgrade, nor those stopped for maintenance), and tells
// systemd the manager is ready again. It returns the error of those
// starts, if any.
func (m *Manager) Resumed(ctx context.Context, st *UpgradeState, stateFD int) error {
	for _, fd := range append(st.FDs(), stateFD) {
		unix.Close(fd)
	}
	var start []*instance.Instance
	m.ports.do(func(t *portTable) {
		for _, s := range t.slots {
			if s.waiting && !s.held {
				start = append(start, s.inst) // started as it is: its restart counts carry on
			}
			s.waiting = false
		}
	})
	err := startEach(ctx, start, instance.KeepTrying)
	m.warnIfUnsent(notify.Ready(m.readyStatus()))
	return err
}

// degrade records, for a program that was gone back to, what it runs
// without and why: in its log, and after the upgrade's error in status.
func (m *Manager) degrade(what string, err error) {
	m.log.Error("running degraded after a failed upgrade: "+what, "err", err)
	m.upgradeErr += fmt.Sprintf("; degraded: %s: %v", what, err)
}
