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
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/internal/fds"
	"github.com/hellomgr/hellomgr/notify"
	"golang.org/x/sys/unix"
)

// Upgrade replaces the manager's program with binary, keeping every
// instance running: see the top of this file. progress gets the steps;
// handing gets the last line, sent just before the exec, which ends every
// connection to the control socket. It returns only when the upgrade did
// not happen, with the reason; the manager then runs on as before, and
// carries out a reload asked for meanwhile (AskReload).
func (m *Manager) Upgrade(ctx context.Context, binary string, progress control.Progress, handing func(line string)) error {
	ctx, done, err := m.beginRollout(ctx, holderUpgrade)
	if err != nil {
		return refused(err)
	}
	defer func() {
		done()
		m.reloadIfAsked()
	}()
	text, err := m.upgradeable()
	if err != nil {
		return refused(err)
	}
	m.endHooks() // the new program would not know them
	defer m.resumeHooks()
	st, release, err := m.handover(text)
	if err != nil {
		return refused(err)
	}
	defer release() // after a failed exec
	info, err := checkProgram(ctx, binary, st)
	if err != nil {
		return refused(err)
	}
	progress("%s: hellomgr %s, state format %d", binary, info.Version, info.StateFormat)
	return m.execProgram(ctx, binary, st, handing)
}

func refused(err error) error { return fmt.Errorf("upgrade refused, nothing changed: %w", err) }

// execProgram execs binary with st, and returns only if that failed.
// A stop asked for during the upgrade (ctx ended) cancels it here: the
// stop is then carried out by this program, gracefully.
func (m *Manager) execProgram(ctx context.Context, binary string, st *UpgradeState, handing func(string)) error {
	if ctx.Err() != nil {
		return refused(m.stoppedByShutdown(ctx.Err()))
	}
	st.ReloadAfter = m.turn.takeReloadAfter()
	fd, err := stateFile(st)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	handing(fmt.Sprintf("handing %d running instances over to %s (manager pid %d)", st.running(), binary, os.Getpid()))
	m.warnIfUnsent(notify.Reloading())
	argv := []string{binary, "up", "-c", st.Config, "--upgrade-fd", strconv.Itoa(fd)}
	err = execKeeping(binary, argv, append(st.FDs(), fd))
	if st.ReloadAfter {
		m.turn.askReloadAfterAnyway()
	}
	m.warnIfUnsent(notify.Ready(m.readyStatus()))
	m.log.Error("upgrade failed; this manager runs on", "err", err)
	return fmt.Errorf("the old manager runs on: %w", err)
}

// upgradeable refuses an upgrade that the new program could not take
// over: while the config file says something else than the running
// config (an upgrade changes the program, a reload the config), or
// while a path the new program checks as it takes over would be refused
// (which would make it go back at once). It returns the config's text,
// which the new program runs.
func (m *Manager) upgradeable() ([]byte, error) {
	running := m.Config()
	text, err := os.ReadFile(running.File)
	var cfg *config.Config
	if err == nil {
		cfg, err = config.Parse(running.File, text)
	}
	if err != nil {
		return nil, fmt.Errorf("the config no longer loads; fix it (hellomgr check), then upgrade:\n%w", err)
	}
	if !reflect.DeepEqual(cfg, running) {
		return nil, fmt.Errorf("%s changed since the manager loaded it: run hellomgr reload first (or put the file back), then upgrade", running.File)
	}
	if err := CheckPaths(running); err != nil {
		return nil, fmt.Errorf("the new program would refuse to take over:\n%w", err)
	}
	return text, nil
}

// AskReload is a reload asked for by a signal: carried out now, or, while
// an upgrade holds the turn, once the upgrade is over, by whichever
// program runs then. Any other rollout in progress refuses it.
func (m *Manager) AskReload(ctx context.Context, progress control.Progress) error {
	err := m.Reload(ctx, progress)
	if errors.Is(err, ErrBusy) && m.turn.askReloadAfter() {
		m.log.Info("reload asked for during an upgrade: carried out once the upgrade is over")
		return nil
	}
	return err
}

// reloadIfAsked carries out, on a goroutine of its own, a reload asked for
// during an upgrade that did not happen.
func (m *Manager) reloadIfAsked() {
	if !m.turn.takeReloadAfter() {
		return
	}
	go func() {
		if err := m.Reload(context.Background(), m.logProgress); err != nil {
			m.log.Error("reload asked for during the upgrade failed", "err", err)
		}
	}()
}

func (m *Manager) logProgress(format string, args ...any) { m.log.Info(fmt.Sprintf(format, args...)) }

// handover freezes every instance and gathers what the next program
// inherits. release undoes it: it closes the copies and lets the
// instances go on.
func (m *Manager) handover(configText []byte) (st *UpgradeState, release func(), err error) {
	var h handing
	defer func() {
		if err != nil {
			h.release()
		}
	}()
	if st, err = m.managerState(&h); err != nil {
		return nil, nil, err
	}
	st.ConfigText = configText
	for _, p := range m.portsToHand(&h) {
		if p.err != nil {
			return nil, nil, p.err
		}
		if p.state.Instance, err = h.freeze(p.inst); err != nil {
			return nil, nil, err
		}
		if p.state.Instance == nil {
			rest := p.inst.Rest() // frozen: it stays so until the exec
			p.state.Rest = &rest
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
func (h *handing) dup(c fds.Conner) (int, error) {
	fd, err := fds.DupOf(c)
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
		Console: m.opts.Console != nil, MetricsFD: -1, ManagerPID: os.Getpid(),
	}
	if st.LockFD, err = h.dup(m.lock.f); err != nil {
		return nil, fmt.Errorf("pid lock: %w", err)
	}
	if st.ControlFD, err = h.dup(m.controlLn.(fds.Conner)); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if m.metricsLn != nil {
		if st.MetricsFD, err = h.dup(m.metricsLn.(fds.Conner)); err != nil {
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

// checkProgram runs `binary upgrade-check` with st on its stdin.
func checkProgram(ctx context.Context, binary string, st *UpgradeState) (UpgradeInfo, error) {
	var info UpgradeInfo
	state, err := json.Marshal(st)
	if err != nil {
		return info, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "upgrade-check")
	cmd.Stdin = bytes.NewReader(state)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err = cmd.Run(); err != nil {
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
	if info.PID != 0 && info.PID != cmd.Process.Pid {
		return info, fmt.Errorf("%s runs hellomgr in a process of its own (pid %d, not pid %d it was started as), which could not supervise the instances: a wrapper script must end with exec hellomgr \"$@\"", binary, info.PID, cmd.Process.Pid)
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

// stateFile returns a memfd holding st, close-on-exec.
func stateFile(st *UpgradeState) (int, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return -1, err
	}
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
