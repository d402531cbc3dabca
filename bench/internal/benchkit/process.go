package benchkit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/proc"
)

// Child is a process the bench started and waits for itself.
type Child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// StartChild starts cmd in a session of its own, and so in a process
// group of its own whose id is its pid, with SIGKILL as its parent-death
// signal, so that it does not outlive a bench that dies. What cmd itself
// starts in other groups or sessions is the caller's to stop.
//
// A session of its own, because Linux's scheduler shares the CPU fairly
// between sessions, not between processes, when autogroups are on
// (/proc/sys/kernel/sched_autogroup_enabled, the default): a daemon that
// detaches (`hellomgr up -d`, PM2's daemon) gets a session and so a share
// of its own, and a process left in the bench's session would share one
// with the bench, wrk and whatever else the bench started. Each service
// the bench starts (nginx, wrk, a manager and its apps) thus gets a share
// of its own, as systemd gives each unit a cgroup of its own.
func StartChild(cmd *exec.Cmd) (*Child, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setpgid = false // setpgid fails in a session leader
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	c := &Child{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(c.done) }()
	return c, nil
}

// PID is the child's process id, which is also its process group's and
// its session's.
func (c *Child) PID() int { return c.cmd.Process.Pid }

// Done is closed once the child has exited and been reaped.
func (c *Child) Done() <-chan struct{} { return c.done }

// Stop sends sig to the child's process group, waits up to grace for the
// child to exit, then sends SIGKILL to the group and waits for the exit.
// It reports whether the child exited before the SIGKILL. It is safe to
// call more than once.
func (c *Child) Stop(sig syscall.Signal, grace time.Duration) bool {
	select {
	case <-c.done:
		return true
	default:
	}
	syscall.Kill(-c.PID(), sig)
	select {
	case <-c.done:
		syscall.Kill(-c.PID(), syscall.SIGKILL) // whatever else is left in the group
		return true
	case <-time.After(grace):
	}
	syscall.Kill(-c.PID(), syscall.SIGKILL)
	<-c.done
	return false
}

// Process is a process the bench did not start itself (a daemon's, or
// one a manager started), known by its pid and its start time, so that a
// pid reused by another process is never signalled.
type Process struct {
	PID   int
	Start time.Time
}

// Find returns the running process pid; false when it does not exist or
// has exited.
func Find(pid int) (Process, bool) {
	st, err := proc.Read(pid)
	if err != nil {
		return Process{}, false
	}
	return Process{PID: pid, Start: st.StartTime}, true
}

// FindFile is Find for the pid written in a pid file.
func FindFile(path string) (Process, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Process{}, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return Process{}, fmt.Errorf("pid file %s: %w", path, err)
	}
	p, ok := Find(pid)
	if !ok {
		return Process{}, fmt.Errorf("pid file %s: process %d is not running", path, pid)
	}
	return p, nil
}

// Alive reports whether the process still runs: it exists, is not a
// zombie, and started when it did.
func (p Process) Alive() bool {
	st, err := proc.Read(p.PID)
	return err == nil && st.StartTime.Equal(p.Start)
}

// Stop sends sig to the process, waits up to grace for it to be gone,
// then sends SIGKILL and waits up to 5 s more. It does nothing to a
// process that is already gone, and returns an error only when the
// process survived the SIGKILL. It is safe to call more than once.
func (p Process) Stop(sig syscall.Signal, grace time.Duration) error {
	if !p.Alive() {
		return nil
	}
	syscall.Kill(p.PID, sig)
	if p.WaitGone(grace) {
		return nil
	}
	if p.Alive() {
		syscall.Kill(p.PID, syscall.SIGKILL)
	}
	if !p.WaitGone(5 * time.Second) {
		return fmt.Errorf("process %d survived SIGKILL", p.PID)
	}
	return nil
}

// WaitGone waits up to limit for the process to be gone, and reports
// whether it is.
func (p Process) WaitGone(limit time.Duration) bool {
	return WaitFor("exit", limit, func() bool { return !p.Alive() }) == nil
}

// StopAll stops every process in ps (see Process.Stop), one after the
// other, and joins the errors.
func StopAll(ps []Process, sig syscall.Signal, grace time.Duration) error {
	var errs []error
	for _, p := range ps {
		errs = append(errs, p.Stop(sig, grace))
	}
	return errors.Join(errs...)
}

// Children returns the pids of the processes whose parent is pid, as
// /proc/PID/task/*/children lists them.
func Children(pid int) []int {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, _ := os.ReadDir(dir)
	var pids []int
	for _, t := range tasks {
		b, _ := os.ReadFile(dir + "/" + t.Name() + "/children")
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
	}
	return pids
}
