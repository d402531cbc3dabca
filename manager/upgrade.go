package manager

// Upgrade: replacing the manager's program while every instance runs on.
//
// The manager execs the new hellomgr binary in place (execve(2): same
// pid), as nginx does on SIGUSR2, rather than starting a second process
// beside it as tableflip does. The instances are the manager's children
// and die with the thread that forked them (Pdeathsig): a new process
// could neither wait for them nor keep that guarantee without a parent
// that stays, while after an exec they are still our children. execve
// ends every thread but the caller's, so every instance is forked on
// one thread, the main thread, and the exec is made from it (package
// instance, thread.go, where a test checks the kernel does as said).
//
// What crosses the exec: descriptors without close-on-exec (the pid
// lock, so the config is never unlocked; the control and metrics
// listeners and every port's socket, so none is ever closed; each
// instance's output pipe and notify socket; the old program itself, for
// a way back), and UpgradeState, as JSON in a memfd named on the new
// program's command line (`up --upgrade-fd N`). The new program adopts
// each ready instance (instance.Adopt): same pid, its exit waited for as
// before, its output into the same log file.
//
// Before touching anything, Upgrade refuses while a rollout runs or an
// instance is starting or stopping, when the config file differs from
// the running config (a reload first), and when the new binary, run as
// `upgrade-check` with the state on its stdin, does not say it is a
// hellomgr that reads this state format. A new program that then fails
// to take over (its config, a descriptor) execs the old program back with
// the same state and the reason (RollBack): the old manager runs on, and
// `hellomgr upgrade` reports the reason.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/notify"
)

// StateFormat numbers the layout of UpgradeState. A binary that reads
// another refuses to take over.
const StateFormat = 1

// UpgradeState is what one manager program hands the next.
type UpgradeState struct {
	Format    int         `json:"format"`
	Config    string      `json:"config"`   // the config file
	Version   string      `json:"version"`  // of the program handing over
	Upgrades  int         `json:"upgrades"` // upgrades of this manager so far, this one included
	Error     string      `json:"error,omitempty"`
	Console   bool        `json:"console"` // instances' lines echoed on stdout
	LockFD    int         `json:"lock_fd"`
	ControlFD int         `json:"control_fd"`
	MetricsFD int         `json:"metrics_fd"` // -1: metrics off
	ProgramFD int         `json:"program_fd"` // the program handing over, for RollBack
	Ports     []PortState `json:"ports"`
}

// PortState is one port in an UpgradeState.
type PortState struct {
	Port       int                `json:"port"`
	ListenerFD int                `json:"listener_fd"` // -1: no socket held
	Reloads    uint64             `json:"reloads"`
	Held       bool               `json:"held,omitempty"`
	Instance   *instance.Handover `json:"instance,omitempty"` // nil: no process to hand over
}

// FDs are the descriptors the next program inherits.
func (s *UpgradeState) FDs() []int {
	fds := []int{s.LockFD, s.ControlFD, s.ProgramFD}
	if s.MetricsFD >= 0 {
		fds = append(fds, s.MetricsFD)
	}
	for _, p := range s.Ports {
		if p.ListenerFD >= 0 {
			fds = append(fds, p.ListenerFD)
		}
		if p.Instance != nil {
			fds = append(fds, p.Instance.FDs()...)
		}
	}
	return fds
}

// UpgradeInfo is what `hellomgr upgrade-check` prints.
type UpgradeInfo struct {
	Program     string `json:"program"` // "hellomgr"
	Version     string `json:"version"`
	StateFormat int    `json:"state_format"`
}

// CheckUpgrade is `upgrade-check`: it reads the state a manager would
// hand over from r, if any, and says whether this binary can take it.
func CheckUpgrade(r io.Reader, version string) (UpgradeInfo, error) {
	info := UpgradeInfo{Program: "hellomgr", Version: version, StateFormat: StateFormat}
	data, err := io.ReadAll(r)
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return info, err
	}
	var st UpgradeState
	if err := json.Unmarshal(data, &st); err != nil {
		return info, fmt.Errorf("read the state handed over: %w", err)
	}
	if st.Format != StateFormat {
		return info, fmt.Errorf("state format %d handed over, this binary reads %d", st.Format, StateFormat)
	}
	return info, nil
}

type syscallConner interface {
	SyscallConn() (syscall.RawConn, error)
}

// Upgrade replaces the manager's program with binary, keeping every
// instance running: see the top of this file. progress gets the steps;
// handing gets the last line, sent just before the exec, which ends every
// connection to the control socket. It returns only when the upgrade did
// not happen, with the reason; the manager then runs on as before.
func (m *Manager) Upgrade(ctx context.Context, binary string, progress control.Progress, handing func(line string)) error {
	ctx, done, err := m.beginRollout(ctx)
	if err != nil {
		return fmt.Errorf("upgrade refused, nothing changed: %w", err)
	}
	defer done()
	if err := m.configUnchanged(); err != nil {
		return fmt.Errorf("upgrade refused, nothing changed: %w", err)
	}
	m.endHooks() // the new program would not know them (hardening: hooks end at upgrade)
	defer m.resumeHooks()
	st, release, err := m.handover()
	if err != nil {
		return fmt.Errorf("upgrade refused, nothing changed: %w", err)
	}
	defer release() // after a failed exec
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	info, err := checkProgram(ctx, binary, data)
	if err != nil {
		return fmt.Errorf("upgrade refused, nothing changed: %w", err)
	}
	progress("%s: hellomgr %s, state format %d", binary, info.Version, info.StateFormat)
	fd, err := stateFile(data)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	n := 0
	for _, p := range st.Ports {
		if p.Instance != nil {
			n++
		}
	}
	handing(fmt.Sprintf("handing %d running instances over to %s (manager pid %d)", n, binary, os.Getpid()))
	m.warnIfUnsent(notify.Reloading())
	argv := []string{binary, "up", "-c", st.Config, "--upgrade-fd", strconv.Itoa(fd)}
	err = instance.ExecKeeping(binary, argv, os.Environ(), append(st.FDs(), fd))
	m.warnIfUnsent(notify.Ready(m.readyStatus()))
	m.log.Error("upgrade failed; this manager runs on", "err", err)
	return fmt.Errorf("the old manager runs on: %w", err)
}

// configUnchanged refuses an upgrade while the config file says
// something else than the running config: an upgrade changes the
// program, a reload the config.
func (m *Manager) configUnchanged() error {
	running := m.Config()
	cfg, err := config.Load(running.File)
	if err != nil {
		return fmt.Errorf("the config no longer loads; fix it (hellomgr check), then upgrade:\n%w", err)
	}
	if !reflect.DeepEqual(cfg, running) {
		return fmt.Errorf("%s changed since the manager loaded it: run hellomgr reload first (or put the file back), then upgrade", running.File)
	}
	return nil
}

// handover freezes every instance and gathers what the next program
// inherits. release undoes it: it closes the copies and lets the
// instances go on.
func (m *Manager) handover() (st *UpgradeState, release func(), err error) {
	var h handing
	defer func() {
		if err != nil {
			h.release()
		}
	}()
	if st, err = m.managerState(&h); err != nil {
		return nil, nil, err
	}
	for _, p := range m.portsToHand(&h) {
		if p.err != nil {
			return nil, nil, p.err
		}
		if p.inst != nil {
			if p.state.Instance, err = h.freeze(p.inst); err != nil {
				return nil, nil, err
			}
		}
		st.Ports = append(st.Ports, p.state)
	}
	return st, h.release, nil
}

// handing is a handover in progress: the copies of descriptors it made,
// and how to let the frozen instances go on.
type handing struct {
	fds   []int
	thaws []func()
}

// dup copies c's descriptor (a listener, a socket, a lock file) for the
// next program.
func (h *handing) dup(c syscallConner) (int, error) {
	fd, err := instance.DupFD(c)
	if err == nil {
		h.fds = append(h.fds, fd)
	}
	return fd, err
}

func (h *handing) freeze(i *instance.Instance) (*instance.Handover, error) {
	ho, thaw, err := i.Freeze()
	if err == nil {
		h.thaws = append(h.thaws, thaw)
	}
	return ho, err
}

func (h *handing) release() {
	for _, thaw := range h.thaws {
		thaw()
	}
	for _, fd := range h.fds {
		unix.Close(fd)
	}
}

// managerState is the manager's part of the state: its config, counts,
// lock, listeners and program.
func (m *Manager) managerState(h *handing) (st *UpgradeState, err error) {
	st = &UpgradeState{
		Format: StateFormat, Config: m.Config().File, Version: m.opts.Version, Upgrades: m.upgrades + 1,
		Console: m.opts.Console != nil, MetricsFD: -1,
	}
	if st.LockFD, err = h.dup(m.lock.f); err != nil {
		return nil, fmt.Errorf("pid lock: %w", err)
	}
	if st.ControlFD, err = h.dup(m.controlLn.(syscallConner)); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if m.metricsLn != nil {
		if st.MetricsFD, err = h.dup(m.metricsLn.(syscallConner)); err != nil {
			return nil, fmt.Errorf("metrics listener: %w", err)
		}
	}
	if st.ProgramFD, err = unix.Open("/proc/self/exe", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return nil, fmt.Errorf("open the running program: %w", err)
	}
	h.fds = append(h.fds, st.ProgramFD)
	return st, nil
}

// portToHand is one port's part of the state, and its instance to freeze.
type portToHand struct {
	state PortState
	inst  *instance.Instance
	err   error
}

// portsToHand reads every port's part of the state on the owner of the
// set, copying each shared socket there (a failing instance may close
// it meanwhile otherwise), sorted by port. Freezing an instance waits
// for it, so the caller does that, outside the owner.
func (m *Manager) portsToHand(h *handing) []portToHand {
	var out []portToHand
	m.ports.do(func(t *portTable) {
		for _, s := range t.slots {
			p := portToHand{state: PortState{Port: s.port, ListenerFD: -1, Reloads: s.reloads, Held: s.held}, inst: s.inst}
			if s.listener != nil {
				if p.state.ListenerFD, p.err = h.dup(s.listener); p.err != nil {
					p.err = fmt.Errorf("port %d: %w", s.port, p.err)
				}
			}
			out = append(out, p)
		}
	})
	slices.SortFunc(out, func(a, b portToHand) int { return a.state.Port - b.state.Port })
	return out
}

// checkProgram runs `binary upgrade-check` with the state on its stdin.
func checkProgram(ctx context.Context, binary string, state []byte) (UpgradeInfo, error) {
	var info UpgradeInfo
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "upgrade-check")
	cmd.Stdin = bytes.NewReader(state)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if msg == "" {
			msg = err.Error()
		}
		return info, fmt.Errorf("%s cannot take over: %s upgrade-check: %s", binary, binary, msg)
	}
	if err := json.Unmarshal(out.Bytes(), &info); err != nil || info.Program != "hellomgr" {
		return info, fmt.Errorf("%s is not a hellomgr binary (its upgrade-check answered %q)", binary, firstLine(out.String()))
	}
	if info.StateFormat != StateFormat {
		return info, fmt.Errorf("%s (hellomgr %s) reads state format %d, this manager writes %d: restart instead (hellomgr down, then up)", binary, info.Version, info.StateFormat, StateFormat)
	}
	return info, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if len(line) > 80 {
		line = line[:80] + "..."
	}
	return line
}

// stateFile returns a memfd holding data, close-on-exec.
func stateFile(data []byte) (int, error) {
	fd, err := unix.MemfdCreate("hellomgr-upgrade", unix.MFD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("state for the new program: %w", err)
	}
	if err := writeAll(fd, data); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("state for the new program: %w", err)
	}
	return fd, nil
}

func writeAll(fd int, data []byte) error {
	if err := unix.Ftruncate(fd, 0); err != nil {
		return err
	}
	for off := 0; off < len(data); {
		n, err := unix.Pwrite(fd, data[off:], int64(off))
		if err != nil {
			return err
		}
		off += n
	}
	return nil
}

// ReadUpgradeState reads the state the previous program left on fd.
func ReadUpgradeState(fd int) (*UpgradeState, error) {
	var st UpgradeState
	data, err := io.ReadAll(io.NewSectionReader(fdReaderAt(fd), 0, 1<<30))
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil {
		return nil, fmt.Errorf("read the state handed over on fd %d: %w", fd, err)
	}
	if st.Format != StateFormat {
		return nil, fmt.Errorf("state format %d handed over, this binary reads %d", st.Format, StateFormat)
	}
	return &st, nil
}

type fdReaderAt int

func (fd fdReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := unix.Pread(int(fd), p, off)
	if err == nil && n == 0 {
		return 0, io.EOF
	}
	return n, err
}

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
		err = instance.ExecKeeping(path, argv, os.Environ(), append(st.FDs(), stateFD))
	}
	return fmt.Errorf("could not take over (%v), nor go back to the previous program: %w", cause, err)
}

// Resume is Prepare and StartAll for a program that takes over from the
// previous one: it takes the lock, the listeners and the ports' sockets
// handed over in st, and adopts every running instance. It works on
// copies of the descriptors handed over, and leaves them open for
// RollBack until Resumed. An instance whose process is gone is left for
// Resumed to start anew.
func (m *Manager) Resume(st *UpgradeState) error {
	cfg := m.Config()
	if err := st.matches(cfg); err != nil {
		return err
	}
	if err := m.takeListeners(st); err != nil {
		return err
	}
	var err error
	if m.sinks, err = m.logSinks(cfg); err != nil {
		return err
	}
	if cgroupTree(cfg) == nil {
		if err := instance.AdoptOrphans(); err != nil {
			m.log.Warn("orphans of instances go to init", "err", err)
		}
	}
	m.upgrades, m.upgradeErr = st.Upgrades, st.Error
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
		return fmt.Errorf("ports %s handed over, the config lists %s", portList(ports), portList(cfg.Ports))
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
	if err != nil {
		return err
	}
	s.reloads, s.held = p.Reloads, p.Held
	if p.Instance != nil {
		s.inst = m.adopt(cfg, s, p.Instance)
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
// starts the instances that had no process to adopt (in backoff, failed,
// or gone meanwhile; not those stopped for maintenance), and tells
// systemd the manager is ready again. It returns the error of those
// starts, if any.
func (m *Manager) Resumed(ctx context.Context, st *UpgradeState, stateFD int) error {
	for _, fd := range append(st.FDs(), stateFD) {
		unix.Close(fd)
	}
	var start []int
	m.ports.do(func(t *portTable) {
		for port, s := range t.slots {
			if s.inst == nil && !s.held {
				start = append(start, port)
			}
		}
	})
	slices.Sort(start)
	var err error
	if len(start) > 0 {
		err = m.startAll(ctx, start, instance.KeepTrying)
	}
	m.warnIfUnsent(notify.Ready(m.readyStatus()))
	return err
}

func dupFD(fd int) (int, error) {
	n, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("descriptor %d handed over: %w", fd, err)
	}
	return n, nil
}

// dupFile wraps a copy of fd. A socket handed over stays non-blocking,
// and Fd on the file leaves it so (os.NewFile marks only the files it
// made non-blocking itself as ones to make blocking again).
func dupFile(fd int, name string) (*os.File, error) {
	n, err := dupFD(fd)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(n), name), nil
}

func fileListener(fd int) (net.Listener, error) {
	f, err := dupFile(fd, "listener")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FileListener(f)
}
