package instance

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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
//
// The child's stdout and stderr share one pipe, copied to out with a small
// buffer (os/exec's own copy takes 32 KiB per process, which adds up with
// hundreds of instances).
func spawn(spec *Spec, out io.Writer, extraEnv []string) (*process, error) {
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Dir = spec.Dir
	cmd.Env = append(spec.Env[:len(spec.Env):len(spec.Env)], extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if spec.Listener != nil {
		cmd.ExtraFiles = []*os.File{spec.Listener}
	}
	if f, ok := out.(*os.File); ok {
		return spawnDirect(cmd, f, spec.Argv[0])
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start %s: %w", spec.Argv[0], err)
	}
	p := &process{cmd: cmd, exited: make(chan error, 1)}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		copyOutput(out, r)
	}()
	go func() {
		err := wait(cmd)
		// The last lines the child wrote are still in the pipe: let the
		// copy finish, but not for long, since a grandchild that keeps the
		// pipe open would hold it forever.
		select {
		case <-copied:
		case <-time.After(time.Second):
		}
		r.Close()
		p.exited <- err
	}()
	return p, nil
}

// spawnDirect starts cmd writing straight into file: no pipe, no copy, so
// a chatty instance (an access log line per request) costs the manager
// nothing.
func spawnDirect(cmd *exec.Cmd, file *os.File, name string) (*process, error) {
	cmd.Stdout, cmd.Stderr = file, file
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{cmd: cmd, exited: make(chan error, 1)}
	go func() { p.exited <- wait(cmd) }()
	return p, nil
}

// copyOutput copies the child's output until EOF with a 4 KiB buffer. (Not
// io.CopyBuffer: an *os.File source makes it ignore the buffer it is
// given and allocate 32 KiB of its own.)
func copyOutput(out io.Writer, r io.Reader) {
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			out.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// wait waits for cmd to exit. It first waits for the process's pidfd to
// become readable in Go's network poller, which parks the goroutine
// without holding an OS thread (cmd.Wait alone blocks one thread per
// instance in wait4), then reaps it with cmd.Wait, which returns at once.
func wait(cmd *exec.Cmd) error {
	if fd, err := unix.PidfdOpen(cmd.Process.Pid, unix.PIDFD_NONBLOCK); err == nil {
		f := os.NewFile(uintptr(fd), "pidfd")
		if rc, err := f.SyscallConn(); err == nil {
			rc.Read(func(fd uintptr) bool { return exitedYet(int(fd)) })
		}
		f.Close()
	}
	return cmd.Wait()
}

// exitedYet reports, without reaping it, whether the process behind pidfd
// has exited.
func exitedYet(pidfd int) bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PIDFD, pidfd, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	// An error (the child is gone already, say) must not leave us waiting
	// for a readiness that will not come: let cmd.Wait decide.
	return err != nil || info.Signo != 0 // zeroed while it still runs
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
