package instance

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hellomgr/hellomgr/cgroup"
)

// process is one run of the child: the started command and a channel that
// receives the result of cmd.Wait exactly once, after whatever the child
// left behind has been ended (endRest).
type process struct {
	cmd    *exec.Cmd
	exited chan error
	group  *cgroup.Group // the child's own cgroup, or nil
	ended  string        // what endRest ended besides the child, for the log; set before exited is sent
	// output is a copy of the read end of the child's output pipe, kept
	// (close-on-exec, outside Go's poller: heldfd.go) for a Handover;
	// closed once the child has exited.
	output *heldFD
}

// starts numbers the cgroups of one manager's processes.
var starts atomic.Uint64

// spawn starts argv in a session of its own (so also in a process group of
// its own, with pgid = sid = pid) and, when spec.Cgroup is set, in a
// cgroup of its own under it, entered at fork. The child gets
// Pdeathsig=SIGKILL, so it dies with the manager even when the manager is
// killed with SIGKILL; the fork itself runs on the spawn thread (thread.go),
// since the signal fires when the forking thread ends.
//
// The child's stdout and stderr share one pipe, whose read end goes to
// spec.Output (a logs.Log moves its bytes into the port's file in the
// kernel).
func spawn(spec *Spec) (*process, error) {
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Dir = spec.Dir
	cmd.Env = spec.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if spec.Listener != nil {
		cmd.ExtraFiles = []*os.File{spec.Listener}
	}
	p := &process{cmd: cmd, exited: make(chan error, 1)}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = p.start(spec)
	w.Close()
	if err != nil {
		r.Close()
		return nil, err
	}
	p.watch(spec.Output, r)
	return p, nil
}

// watch gives r, the read end of the child's output pipe, to out, and
// sends the child's exit on p.exited once it has exited and its last
// lines have reached the log.
func (p *process) watch(out Output, r *os.File) {
	p.output = holdFD(r)
	taken, abandon := out.Take(r, p.PID())
	go func() {
		err := p.waitAll()
		// The last lines the child wrote may still be in the pipe: let
		// the log take them, but not for long, since a grandchild that
		// keeps the pipe open (one that escaped, without a cgroup) would
		// hold it forever.
		select {
		case <-taken:
		case <-time.After(time.Second):
			abandon()
		}
		p.output.close()
		p.exited <- err
	}()
}

// start starts the command, in a new cgroup when spec.Cgroup is set, and
// registers it as one of the manager's children (see AdoptOrphans).
func (p *process) start(spec *Spec) error {
	name := spec.Argv[0]
	if spec.Cgroup != nil {
		g, err := spec.Cgroup.New(fmt.Sprintf("instance-%d-%d", spec.Port, starts.Add(1)))
		if err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		entered, err := g.Enter(p.cmd.SysProcAttr)
		if err != nil {
			g.End(0)
			return fmt.Errorf("start %s: %w", name, err)
		}
		defer entered()
		p.group = g
	}
	children.Lock()
	var err error
	onSpawnThread(func() { err = p.cmd.Start() })
	if err == nil {
		children.pids[p.cmd.Process.Pid] = true
	}
	children.Unlock()
	if err != nil {
		if p.group != nil {
			p.group.End(0)
		}
		return fmt.Errorf("start %s: %w", name, err)
	}
	return nil
}

// waitAll waits for the child to exit, ends whatever it left running
// (endRest) while its pid, and so its group and session ids, cannot be
// reused yet, then reaps it. It first waits for the process's pidfd to
// become readable in Go's network poller, which parks the goroutine
// without holding an OS thread (cmd.Wait alone blocks one thread per
// instance in wait4); cmd.Wait then returns at once.
func (p *process) waitAll() error {
	if !waitExited(p.cmd.Process.Pid) {
		// No pidfd: reap first, end the rest after.
		err := p.cmd.Wait()
		p.endRest()
		children.forget(p.cmd.Process.Pid)
		return err
	}
	p.endRest()
	err := p.cmd.Wait()
	children.forget(p.cmd.Process.Pid)
	return err
}

// waitExited waits until pid has exited, without reaping it, and reports
// whether it could tell.
func waitExited(pid int) bool {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	exited := false
	rc.Read(func(fd uintptr) bool {
		var done bool
		exited, done = exitedYet(int(fd))
		return done
	})
	return exited
}

// exitedYet reports, without reaping it, whether the process behind pidfd
// has exited, and whether to stop waiting: an error (the child is gone
// already, say) must not leave us waiting for a readiness that will not
// come.
func exitedYet(pidfd int) (exited, done bool) {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PIDFD, pidfd, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	if err != nil {
		return false, true
	}
	return info.Signo != 0, info.Signo != 0 // zeroed while it still runs
}

// endRest ends what the child left running once it has exited: with a
// cgroup, every process still in it, after which the cgroup is removed;
// without one, its process group and every process still in its session.
// Its process group is killed either way, since a member may have left
// the cgroup.
// So a stopped instance leaves nothing behind, and one that crashed is
// restarted only once nothing it started holds its port.
func (p *process) endRest() {
	pid := p.cmd.Process.Pid
	if p.group != nil {
		n, err := p.group.End(cgroup.KillWait)
		switch {
		case err != nil:
			p.ended = fmt.Sprintf("could not end what pid %d left: %v", pid, err)
		case n > 0:
			p.ended = fmt.Sprintf("ended %s left by pid %d in cgroup %s", processes(n), pid, p.group.Dir())
		}
		syscall.Kill(-pid, syscall.SIGKILL)
		return
	}
	syscall.Kill(-pid, syscall.SIGKILL)
	if n := killSession(pid); n > 0 {
		p.ended = fmt.Sprintf("ended %s left by pid %d in its session", processes(n), pid)
	}
}

func processes(n int) string {
	if n == 1 {
		return "1 process"
	}
	return fmt.Sprintf("%d processes", n)
}

// Kill sends SIGKILL to the child's process group and, with a cgroup, to
// every process in it, without waiting.
func (p *process) Kill() {
	p.signalGroup(syscall.SIGKILL)
	if p.group != nil {
		p.group.Kill()
	}
}

// children are the processes spawn started and that were not reaped
// yet: what the reaper of adopted orphans must leave to cmd.Wait.
var children = &childSet{pids: map[int]bool{}}

type childSet struct {
	sync.Mutex
	pids     map[int]bool
	adopting bool // AdoptOrphans was called
}

// AdoptOrphans is the fallback for a manager whose instances cannot have
// cgroups. It makes the calling process a child subreaper
// (PR_SET_CHILD_SUBREAPER): a process an instance started whose parent
// exits becomes the caller's child instead of init's, wherever it went (a
// session of its own included). The caller then reaps those adopted
// processes as they exit, and once no instance process is left (after
// every instance has stopped, a `down` say) kills each of them and every
// process in its session.
//
// What it cannot do: tell which instance an adopted process came from
// while others run (so one that left its instance's session outlives a
// crash of that instance until no instance is left), reach a process that
// left the session of an adopted one in turn, or anything once the
// manager itself is killed with SIGKILL (only each instance's main process
// dies with it then). Safe to call more than once.
func AdoptOrphans() error {
	children.Lock()
	defer children.Unlock()
	if children.adopting {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become a child subreaper: %w", err)
	}
	children.adopting = true
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	go func() {
		for range sigs {
			children.Lock()
			children.reapAdopted()
			children.Unlock()
		}
	}()
	return nil
}

// forget drops a reaped child. When it was the last one and orphans are
// adopted, nothing any instance started should be left: endAdopted.
func (c *childSet) forget(pid int) {
	c.Lock()
	defer c.Unlock()
	delete(c.pids, pid)
	if c.adopting && len(c.pids) == 0 {
		c.endAdopted()
	}
}

// adopted reports whether a child of this process was adopted: it is in
// another session than this process (so not a command the manager ran
// itself, such as nginx's reload) and spawn did not start it. Call with c
// locked.
func (c *childSet) adopted(pid, sid int) bool {
	own, _ := unix.Getsid(0)
	return sid != own && !c.pids[pid]
}

// reapAdopted reaps the adopted children that have exited.
func (c *childSet) reapAdopted() {
	self := os.Getpid()
	forEachProc(func(pid, ppid, sid int, state byte) {
		if ppid == self && state == 'Z' && c.adopted(pid, sid) {
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		}
	})
}

// endAdopted kills every adopted child and every process in its session
// (all descended from instances: a session has only the members its
// leader's descendants bring); the reaper reaps them.
func (c *childSet) endAdopted() {
	self := os.Getpid()
	sids := map[int]bool{}
	forEachProc(func(pid, ppid, sid int, state byte) {
		if ppid == self && c.adopted(pid, sid) {
			sids[sid] = true
		}
	})
	for sid := range sids {
		killSession(sid)
	}
}

// killSession sends SIGKILL to every live process in session sid and
// returns how many there were.
func killSession(sid int) int {
	n := 0
	forEachProc(func(pid, _, psid int, state byte) {
		if psid == sid && state != 'Z' && syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	})
	return n
}

// forEachProc calls fn with every process's pid, parent, session and state
// (proc(5): R, S, Z...), skipping those it cannot read.
func forEachProc(fn func(pid, ppid, sid int, state byte)) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session ...; comm may hold anything.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 4 || f[0] == "" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		sid, _ := strconv.Atoi(f[3])
		fn(pid, ppid, sid, f[0][0])
	}
}

// PID is the process's pid, or 0 for a process that never started.
func (p *process) PID() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// signalGroup sends sig to the child's whole process group. A group that
// is already gone is not an error.
func (p *process) signalGroup(sig syscall.Signal) error {
	err := syscall.Kill(-p.PID(), sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal process group %d: %w", p.PID(), err)
	}
	return nil
}

// Exited receives the child's exit once (see process).
func (p *process) Exited() <-chan error { return p.exited }

// Stop sends sig to the process group and, as systemd does, SIGCONT
// after it: a stopped (SIGSTOP, frozen) process then gets the signal and
// can drain, rather than hold its connections until SIGKILL.
func (p *process) Stop(sig syscall.Signal) error {
	err := p.signalGroup(sig)
	if sig != syscall.SIGKILL && sig != syscall.SIGCONT {
		p.signalGroup(syscall.SIGCONT)
	}
	return err
}
