package instance

import (
	"syscall"

	"github.com/hellomgr/hellomgr/cgroup"
)

// Process is one run of an instance's program as its owner goroutine sees
// it: the real child that spawn forks (process.go), or a fake one in tests
// (internal/fakeproc). Every signal the instance sends goes through it, so
// a fake's pid is never given to kill(2).
//
// A Process whose READY=1 comes from another pid than PID (a fake, which
// sends it from the test process itself) also has NotifyPID() int, the
// pid the notify socket believes.
type Process interface {
	// PID is the process's id, for Status and messages.
	PID() int
	// Exited receives the process's end exactly once, after whatever it
	// left running has been ended: nil for exit status 0, else an error
	// whose ExitCode() int (found with errors.As, as on *exec.ExitError)
	// says the status, -1 when a signal killed it. An error without one
	// counts as a crash.
	Exited() <-chan error
	// Stop asks the process to stop with sig (Spec.StopSignal) and
	// returns without waiting. A process already gone is not an error.
	Stop(sig syscall.Signal) error
	// Kill ends the process and everything it started at once, without
	// waiting for its exit. Safe to call more than once.
	Kill()
}

// Launcher starts one process for spec, whose Env already holds the
// process's NOTIFY_SOCKET when readiness is READY=1. An error means no
// process started: the start failed. Spec.Launch is one; nil: spawn.
type Launcher func(spec Spec) (Process, error)

var _ Process = (*process)(nil)

// notifier is a Process that says READY=1 from another pid than its own.
type notifier interface{ NotifyPID() int }

// notifyPID is the pid whose READY=1 means p is ready.
func notifyPID(p Process) int {
	if n, ok := p.(notifier); ok {
		return n.NotifyPID()
	}
	return p.PID()
}

// groupOf is p's own cgroup: nil without one, or when p is not a real
// child.
func groupOf(p Process) *cgroup.Group {
	if rp, ok := p.(*process); ok {
		return rp.group
	}
	return nil
}

// launch starts the runner's next process: the notify socket first when
// readiness is READY=1, then the process, through Spec.Launch or spawn.
func (r *runner) launch() (Process, error) {
	spec := r.i.spec
	ns, err := r.listenReady()
	if err != nil {
		return nil, err
	}
	if ns != nil {
		spec.Env = append(spec.Env[:len(spec.Env):len(spec.Env)], "NOTIFY_SOCKET="+ns.name)
	}
	if spec.Launch != nil {
		return spec.Launch(spec)
	}
	p, err := spawn(&spec)
	if err != nil {
		return nil, err // not a nil *process in a non-nil Process
	}
	return p, nil
}
