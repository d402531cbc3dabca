package instance

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// process is one run of the child: the started command and a channel that
// receives the result of cmd.Wait exactly once.
type process struct {
	cmd    *exec.Cmd
	exited chan error
}

// spawn starts argv in its own process group. The child gets
// Pdeathsig=SIGKILL, so it dies with the manager even when the manager is
// killed with SIGKILL; spawn must therefore never run on a goroutine that
// locked its OS thread (the signal fires when the forking thread ends).
func spawn(spec *Spec, out io.Writer, extraEnv []string) (*process, error) {
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Dir = spec.Dir
	cmd.Env = append(spec.Env[:len(spec.Env):len(spec.Env)], extraEnv...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A grandchild that keeps the output pipe open must not hold Wait forever.
	cmd.WaitDelay = time.Second
	if spec.Listener != nil {
		cmd.ExtraFiles = []*os.File{spec.Listener}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Argv[0], err)
	}
	p := &process{cmd: cmd, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// signalGroup sends sig to the child's whole process group. A group that
// is already gone is not an error.
func (p *process) signalGroup(sig syscall.Signal) error {
	err := syscall.Kill(-p.pid(), sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal process group %d: %w", p.pid(), err)
	}
	return nil
}

// exitReason classifies a Wait error for the restart counters.
func exitReason(err error) (reason string, code int) {
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		if err == nil {
			return "exited", 0
		}
		return "crashed", -1
	}
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed", -1
	}
	if exitErr.ExitCode() == 0 {
		return "exited", 0
	}
	return "crashed", exitErr.ExitCode()
}

// describeExit says how a process ended, for messages.
func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// pid0 is the pid, or 0 for a process that never started.
func (p *process) pid0() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
