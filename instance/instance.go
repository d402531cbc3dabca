// Package instance runs and supervises one child process: it starts it in
// its own session (and so its own process group), and in a cgroup of its
// own where the manager has them, waits until it answers its readiness
// probe, restarts it with exponential backoff when it exits unasked, and
// stops it with a signal to the group followed, after a bounded wait, by
// SIGKILL. Whatever the child leaves running when it exits (in its cgroup,
// or without one in its session) is killed before the exit is handled.
//
// Every child is forked on one thread, the main thread (thread.go), so
// that the manager can exec a new program of its own without the children
// getting their parent-death signal; the new program takes each running
// child over with Adopt, from the Handover the old one made (adopt.go).
package instance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/cgroup"
	"github.com/hellomgr/hellomgr/internal/bugs"
	"github.com/hellomgr/hellomgr/logs"
)

// Spec is everything needed to run one instance.
type Spec struct {
	Port        int
	Host        netip.Addr // where the port listens, for the probes; the zero Addr: 127.0.0.1
	Argv        []string   // executed directly, never through a shell
	Dir         string
	Env         []string // the child's complete environment
	Listener    *os.File // when set, passed to the child as fd 3 (LISTEN_FDS=1 must be in Env)
	Probe       Probe
	StopSignal  syscall.Signal
	StopTimeout time.Duration
	Restart     RestartPolicy
	Output      Output // takes each process's stdout and stderr; nil keeps only the last lines, in memory
	// Cgroup, if set, is where each process gets a cgroup of its own
	// (instance-<port>-<n>), so that everything it starts is ended with
	// it; nil: its session and process group only (see AdoptOrphans).
	Cgroup *cgroup.Tree
	// OnFailed, if set, is called (on the instance's own goroutine) when
	// the instance gives up and enters state failed.
	OnFailed func(*Instance)
	// Liveness and MemoryLimit (bytes, 0: none) are watched while the
	// instance is ready (see liveness.go, memory.go); OnUnhealthy is told,
	// on a goroutine of the watch, when one fails, with ReasonLiveness or
	// ReasonMemory. It must not block: replacing the instance is the
	// caller's business. OnRestart is told, on the instance's goroutine,
	// when the instance restarts after process pid exited unasked.
	Liveness    Liveness
	MemoryLimit int64
	OnUnhealthy func(i *Instance, reason string)
	OnRestart   func(i *Instance, pid int, reason string)
	// Launch, if set, starts each process instead of the fork and exec
	// of Argv (session, cgroup, parent-death signal, output pipe): a fake
	// process in tests (internal/fakeproc). Such a process cannot be
	// handed over (Freeze fails).
	Launch Launcher
}

// Output takes each process's stdout and stderr pipe: *logs.Log.
type Output interface {
	// Take owns r, the read end of the pipe of the process with pid,
	// and reads it until end of file; done is closed then. abandon
	// gives up sooner.
	Take(r *os.File, pid int) (done <-chan struct{}, abandon func())
	// Last returns the last n lines (at least the last 20 are kept).
	Last(n int) string
}

// RestartPolicy is the restart policy for a process that exits unasked.
type RestartPolicy struct {
	Initial    time.Duration // first delay; doubles after each failure
	Max        time.Duration // cap on the delay
	ResetAfter time.Duration // a run this long resets the delay and the failure count
	MaxTries   int           // failures in a row before giving up (state failed); 0: never
}

// StartMode says what Start does when the first start fails.
type StartMode uint8

const (
	// GiveUp leaves the instance failed: a reload puts the old one back.
	GiveUp StartMode = iota
	// KeepTrying retries with backoff, as after a crash: `hellomgr up`.
	KeepTrying
)

// Status is a snapshot of an instance, safe to keep and read.
type Status struct {
	Port      int
	PID       int // 0 when no process runs
	State     State
	Since     time.Time // when State began
	StartTime time.Time // when the current process started
	// Restarts counts restarts by reason. Snapshots share the map: the
	// instance replaces it with a new one on each restart and never
	// writes to one it has handed out, so a reader must not write to it
	// either. (status, /probe and /metrics take a snapshot of every
	// instance, and a copy each would be most of what they allocate.)
	Restarts     map[string]uint64
	LastExitCode int    // -1 when killed by a signal or never exited
	LastError    string // why the last run or start ended, if it failed
}

// RestartCount is the total of Restarts over all reasons.
func (s Status) RestartCount() uint64 {
	var n uint64
	for _, v := range s.Restarts {
		n += v
	}
	return n
}

// Instance is one supervised child. Its state changes only on its owner
// goroutine (the runner), which runs while a process is wanted; everyone
// else asks it through Start, Stop and Freeze, and reads a Status that
// the owner publishes under mu. The watch of a ready process (liveness,
// memory) records its last error there too, under mu, and only while
// the process it watches is the current one.
type Instance struct {
	spec Spec
	log  *slog.Logger
	out  Output

	mu      sync.Mutex
	running bool               // the owner goroutine is alive
	stops   chan chan struct{} // stop requests, each with a channel to close when stopped
	freezes chan freezeRequest // Freeze requests (adopt.go)
	status  Status
}

// New returns an instance in state stopped. Nothing runs until Start.
func New(spec Spec, log *slog.Logger) *Instance {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if spec.Output == nil {
		spec.Output = logs.Memory()
	}
	return &Instance{
		spec:    spec,
		log:     log.With("port", spec.Port),
		out:     spec.Output,
		stops:   make(chan chan struct{}, 16),
		freezes: make(chan freezeRequest, 4),
		status:  Status{Port: spec.Port, State: Stopped, Since: time.Now(), LastExitCode: -1, Restarts: map[string]uint64{}},
	}
}

// Spec returns the spec the instance was made with.
func (i *Instance) Spec() Spec { return i.spec }

// Status returns a snapshot of the instance's current status; its
// Restarts map is shared (see Status.Restarts).
func (i *Instance) Status() Status {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.status
}

// addRestarts counts one restart more for reason, and those of prev, in
// a new map (see Status.Restarts).
func (s *Status) addRestarts(prev map[string]uint64, reason string) {
	m := make(map[string]uint64, len(s.Restarts)+1)
	for k, v := range s.Restarts {
		m[k] = v
	}
	for k, v := range prev {
		m[k] += v
	}
	m[reason]++
	s.Restarts = m
}

// Output returns the last lines printed: read from the end of the log
// file, or, without one, the current or last process's, kept in memory.
func (i *Instance) Output() string { return i.out.Last(20) }

// Start starts the process and returns once it is ready, or with the reason
// it is not: it exited first, it did not answer within the probe timeout, or
// ctx ended. The error names the port and the pid: a *StartError when the
// process failed (it could not be spawned, it exited first, or it was
// not ready in time), with its last output. After a failed first
// start the instance is failed (GiveUp) or retries with backoff
// (KeepTrying). Once ready, an unasked exit is always retried. Starting an
// instance that is already running is an error.
func (i *Instance) Start(ctx context.Context, mode StartMode) error {
	i.mu.Lock()
	if i.running {
		i.mu.Unlock()
		return fmt.Errorf("instance %d is already running", i.spec.Port)
	}
	i.running = true
	i.mu.Unlock()

	first := make(chan error, 1)
	r := &runner{i: i, mode: mode, first: first}
	go r.run()
	select {
	case err := <-first:
		return err
	case <-ctx.Done():
		i.Stop(context.Background())
		return fmt.Errorf("instance %d: start: %w", i.spec.Port, ctx.Err())
	}
}

// StopAsync asks the instance to stop: the stop signal to the process
// group, then SIGKILL after the stop timeout. The returned channel is
// closed once no process runs. Stopping a stopped instance is not an error,
// and it is safe to call more than once.
func (i *Instance) StopAsync() <-chan struct{} {
	reply := make(chan struct{})
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.running {
		close(reply)
		return reply
	}
	i.stops <- reply
	return reply
}

// Stop is StopAsync that waits, up to ctx, for the process to be gone.
func (i *Instance) Stop(ctx context.Context) error {
	select {
	case <-i.StopAsync():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("instance %d: stop: %w", i.spec.Port, ctx.Err())
	}
}

// setState is the only writer of the state. A transition the table does
// not allow is a bug in the runner: it is reported (package bugs) and
// made all the same, since the runner acts on the state it asked for and
// status must say what the runner does; it never ends the manager.
func (i *Instance) setState(to State, update func(*Status)) {
	i.mu.Lock()
	from := i.status.State
	if from != to && !canMove(from, to) {
		bugs.Report(i.log, "transition the table does not allow", "from", from.String(), "to", to.String())
	}
	i.status.State = to
	i.status.Since = time.Now()
	pid := i.status.PID // the process the change is about, even if it is gone now
	if update != nil {
		update(&i.status)
	}
	if i.status.PID != 0 {
		pid = i.status.PID
	}
	i.mu.Unlock()
	if from != to {
		i.log.Info(from.String()+" -> "+to.String(), "pid", pid)
	}
}

// finish ends the owner goroutine's life: a later Start may begin a new
// owner, and only then are the stop requests answered (waiters, and any
// still queued), so that a Start right after Stop returns never finds the
// old owner still running.
func (i *Instance) finish(waiters []chan struct{}) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.running = false
	for _, w := range waiters {
		close(w)
	}
	for {
		select {
		case reply := <-i.stops:
			close(reply)
		case req := <-i.freezes:
			req.reply <- freezeReply{} // no process to hand over
		default:
			return
		}
	}
}

var errStoppedBeforeReady = errors.New("stopped before it was ready")

// State returns the instance's current state, as Status would, without
// copying the rest.
func (i *Instance) State() State {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.status.State
}

// host is where the probes dial: Host, or for every interface (Host
// unset or unspecified) the loopback address of its family.
func (s *Spec) host() netip.Addr {
	switch {
	case !s.Host.IsValid() || s.Host == netip.IPv4Unspecified():
		return netip.AddrFrom4([4]byte{127, 0, 0, 1})
	case s.Host == netip.IPv6Unspecified():
		return netip.IPv6Loopback()
	}
	return s.Host
}
