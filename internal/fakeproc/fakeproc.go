// Package fakeproc is a fake instance process for tests of instance/ and
// manager/: set instance.Spec.Launch to a Launcher's Launch, and each
// start makes a Process that does what the test planned (Plan) or tells
// it (Ready, Print, Exit), driven over channels. No program runs and no
// signal is sent: a stop or a kill only ends the fake.
//
// Fake pids start above 4194304 (PID_MAX_LIMIT), the highest pid Linux
// gives, so no real process has one; kill(2) of one fails with ESRCH.
//
// A ready fake listens on the spec's port (Process.Ready). With a
// Listener (socket handoff) the port accepts connects before that, so a
// TCP probe cannot tell a fake that is not ready: probe over HTTP, or
// with Probe.Notify.
//
// Inside a testing/synctest bubble, make the Launcher there, probe over
// TCP (Probe.HTTPPath, Probe.Notify and Liveness.HTTPPath empty), and do
// not Print: then no goroutine of the fake waits on a socket or a pipe,
// which would stop the bubble's clock.
package fakeproc

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hellomgr/hellomgr/instance"
)

// Plan says what a launched process does by itself. The zero Plan is a
// process that never becomes ready, never exits unasked, and exits with
// status 0 at once on the stop signal.
type Plan struct {
	// SpawnError, if set, makes Launch fail with it: no process starts.
	SpawnError error
	// Ready: the process becomes ready at once (see Process.Ready).
	Ready bool
	// Exit: the process exits by itself with ExitCode, ExitAfter after
	// it started (0: at once).
	Exit      bool
	ExitCode  int
	ExitAfter time.Duration
	// IgnoreStop: the stop signal does nothing; only a kill ends it.
	IgnoreStop bool
	// StopDelay is how long the process takes to exit, with status 0,
	// after the stop signal.
	StopDelay time.Duration
}

// firstPID is below the first fake pid, above any real one.
const firstPID = 5_000_000

// lastPID is shared by every Launcher, so that no two fakes share a pid.
var lastPID atomic.Int64

func init() { lastPID.Store(firstPID) }

// Launcher starts fake processes. Its methods are safe to call from any
// goroutine.
type Launcher struct {
	launched chan *Process

	mu       sync.Mutex
	plan     Plan   // for a launch with no queued plan
	queue    []Plan // the next launches' plans, in order
	launches int
	procs    []*Process
	stopped  []int
	killed   []int
}

// launchedCap bounds the processes Launched holds unread; later ones are
// not sent there (Started still lists them).
const launchedCap = 1024

// New returns a Launcher whose processes follow the zero Plan until
// Default or Queue says otherwise.
func New() *Launcher {
	return &Launcher{launched: make(chan *Process, launchedCap)}
}

// Default sets the plan of every launch with no queued plan.
func (l *Launcher) Default(p Plan) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.plan = p
}

// Queue sets the plans of the next launches, in order, after those
// already queued.
func (l *Launcher) Queue(plans ...Plan) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queue = append(l.queue, plans...)
}

// Launch is an instance.Launcher: it starts a process following the next
// plan, or fails with the plan's SpawnError.
func (l *Launcher) Launch(spec instance.Spec) (instance.Process, error) {
	plan := l.next()
	if plan.SpawnError != nil {
		return nil, plan.SpawnError
	}
	p := newProcess(l, spec, plan)
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	select {
	case l.launched <- p:
	default:
	}
	p.follow()
	return p, nil
}

// next takes the plan of a launch.
func (l *Launcher) next() Plan {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.launches++
	if len(l.queue) == 0 {
		return l.plan
	}
	p := l.queue[0]
	l.queue = l.queue[1:]
	return p
}

// Launched receives each process as it is launched (the first 1024 not
// yet received).
func (l *Launcher) Launched() <-chan *Process { return l.launched }

// Launches counts the calls of Launch, those that failed included.
func (l *Launcher) Launches() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.launches
}

// Started returns the pids of the processes launched, in order.
func (l *Launcher) Started() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	pids := make([]int, len(l.procs))
	for i, p := range l.procs {
		pids[i] = p.pid
	}
	return pids
}

// Stopped returns the pids sent a stop signal, in order, once each.
func (l *Launcher) Stopped() []int { return l.list(&l.stopped) }

// Killed returns the pids killed (Kill, or SIGKILL as stop signal), in
// order, once each.
func (l *Launcher) Killed() []int { return l.list(&l.killed) }

func (l *Launcher) list(pids *[]int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(*pids)
}

// record adds pid to a list, once.
func (l *Launcher) record(pids *[]int, pid int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !slices.Contains(*pids, pid) {
		*pids = append(*pids, pid)
	}
}

// Process returns the process launched with pid, or nil.
func (l *Launcher) Process(pid int) *Process {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.procs {
		if p.pid == pid {
			return p
		}
	}
	return nil
}
