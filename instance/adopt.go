package instance

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hellomgr/hellomgr/internal/fds"
	"golang.org/x/sys/unix"
)

// Handover is a running instance as one manager program hands it to the
// next (hellomgr upgrade, which replaces the program with execve(2) and
// keeps the pid): its process, its status, and the descriptors the next
// program takes over. The descriptors are close-on-exec copies until
// ExecKeeping passes them on (FDs).
type Handover struct {
	PID          int               `json:"pid"`
	StartTime    time.Time         `json:"start_time"`
	Restarts     map[string]uint64 `json:"restarts,omitempty"`
	LastExitCode int               `json:"last_exit_code"`
	LastError    string            `json:"last_error,omitempty"`
	Cgroup       string            `json:"cgroup,omitempty"`      // the process's cgroup directory; "" without
	OutputFD     int               `json:"output_fd"`             // the read end of its stdout and stderr pipe
	NotifyFD     int               `json:"notify_fd"`             // its NOTIFY_SOCKET; -1 without
	NotifyName   string            `json:"notify_name,omitempty"` // that socket's name
}

// FDs are the descriptors the next program must inherit.
func (h *Handover) FDs() []int {
	if h.NotifyFD >= 0 {
		return []int{h.OutputFD, h.NotifyFD}
	}
	return []int{h.OutputFD}
}

// closeFDs closes the handover's descriptors.
func (h *Handover) closeFDs() {
	for _, fd := range h.FDs() {
		unix.Close(fd)
	}
}

type freezeRequest struct {
	reply chan freezeReply
	thaw  chan struct{}
}

type freezeReply struct {
	h   *Handover
	err error
}

// Freeze asks the instance's goroutine for a Handover of its ready
// process, and holds that goroutine still from then on, so that nothing
// changes what the handover says (an exit is not handled, a stop not
// begun) until thaw is called: after a failed exec, thaw closes the
// handover's descriptors and lets the instance go on. An instance with no
// process (stopped, failed, in backoff) gives a nil Handover; one that is
// starting or stopping is an error, since its process is in no state to
// hand over. thaw is safe to call more than once.
func (i *Instance) Freeze() (h *Handover, thaw func(), err error) {
	req := freezeRequest{reply: make(chan freezeReply, 1), thaw: make(chan struct{})}
	i.mu.Lock()
	if !i.running {
		i.mu.Unlock()
		return nil, func() {}, nil
	}
	i.freezes <- req
	i.mu.Unlock()
	r := <-req.reply
	if r.err != nil {
		return nil, nil, r.err
	}
	var once atomic.Bool
	return r.h, func() {
		if once.CompareAndSwap(false, true) {
			if r.h != nil {
				r.h.closeFDs()
			}
			close(req.thaw)
		}
	}, nil
}

// freeze answers a Freeze on the runner's goroutine and, once it has
// handed over, waits for the thaw.
func (r *runner) freeze(req freezeRequest) {
	h, err := r.handover()
	req.reply <- freezeReply{h, err}
	if err == nil {
		<-req.thaw
	}
}

func (r *runner) handover() (*Handover, error) {
	st := r.i.Status() // what the handover carries on
	if len(r.waiters) > 0 || (r.child != nil && r.readyAt.IsZero()) {
		return nil, fmt.Errorf("instance %d is %s: try again once it is ready", r.i.spec.Port, st.State)
	}
	if r.child == nil {
		return nil, nil
	}
	p, ok := r.child.(*process)
	if !ok {
		return nil, fmt.Errorf("instance %d: pid %d was not spawned by hellomgr (Spec.Launch): it cannot be handed over", r.i.spec.Port, r.child.PID())
	}
	h := &Handover{
		PID: p.PID(), StartTime: st.StartTime, Restarts: st.Restarts,
		LastExitCode: st.LastExitCode, LastError: st.LastError, NotifyFD: -1,
	}
	if p.group != nil {
		h.Cgroup = p.group.Dir()
	}
	if err := r.handOverFDs(h, p); err != nil {
		return nil, err
	}
	return h, nil
}

// handOverFDs puts copies of p's output pipe and notify socket in h.
func (r *runner) handOverFDs(h *Handover, p *process) error {
	var err error
	if h.OutputFD, err = p.output.dup(); err != nil {
		return fmt.Errorf("instance %d: hand over its output pipe: %w", r.i.spec.Port, err)
	}
	if r.readySock != nil {
		if h.NotifyFD, err = fds.DupOf(r.readySock.conn); err != nil {
			unix.Close(h.OutputFD)
			return fmt.Errorf("instance %d: hand over its notify socket: %w", r.i.spec.Port, err)
		}
		h.NotifyName = r.readySock.name
	}
	return nil
}

// Adopt returns a ready instance that runs the process h describes: one
// that this process started, through its spawn thread, before it
// replaced its program. The process is still this process's child, so
// its exit is waited for as a spawned one's is; its output pipe goes to
// spec.Output, its notify socket is read again, and its liveness and
// memory are watched again. Adopt owns h's descriptors, and closes them
// when it fails: when the process is gone, or is no longer a child of
// this process, the caller starts the instance anew.
func Adopt(spec Spec, h *Handover, log *slog.Logger) (*Instance, error) {
	i := New(spec, log)
	p, ns, err := adoptProcess(i, h)
	if err != nil {
		return nil, fmt.Errorf("instance %d (pid %d): %w", spec.Port, h.PID, err)
	}
	i.status.Restarts = maps.Clone(h.Restarts)
	if i.status.Restarts == nil {
		i.status.Restarts = map[string]uint64{}
	}
	i.status.LastExitCode, i.status.LastError = h.LastExitCode, h.LastError
	i.running = true
	r := &runner{i: i, mode: KeepTrying, adopted: &adoption{p: p, ns: ns, start: h.StartTime}}
	go r.run()
	return i, nil
}

// adoption is what a runner begins with instead of a start.
type adoption struct {
	p     *process
	ns    *readySocket
	start time.Time
}

// resume makes the adopted process the runner's child, ready.
func (r *runner) resume(a *adoption) {
	r.child, r.readySock = a.p, a.ns
	r.i.setState(Starting, func(s *Status) { s.PID = a.p.PID(); s.StartTime = a.start })
	r.started(a.p)
	if a.ns != nil {
		go a.ns.serve(a.p.PID())
	}
	r.readyAt = time.Now()
	r.i.setState(Ready, nil)
	r.watchReady()
	r.i.log.Info("adopted from the previous manager program", "pid", a.p.PID())
}

func adoptProcess(i *Instance, h *Handover) (*process, *readySocket, error) {
	out := os.NewFile(uintptr(h.OutputFD), "output")
	var notify *os.File
	if h.NotifyFD >= 0 {
		notify = os.NewFile(uintptr(h.NotifyFD), "notify")
		defer notify.Close()
	}
	fail := func(err error) (*process, *readySocket, error) {
		out.Close()
		return nil, nil, err
	}
	if ppid, err := parentOf(h.PID); err != nil || ppid != os.Getpid() {
		return fail(errors.New("no longer a child of this process"))
	}
	proc, err := os.FindProcess(h.PID) // a pidfd: Wait reaps this very process
	if err != nil {
		return fail(err)
	}
	p := &process{cmd: &exec.Cmd{Path: i.spec.Argv[0], Args: i.spec.Argv, Process: proc}, exited: make(chan error, 1)}
	if h.Cgroup != "" && i.spec.Cgroup != nil {
		g, err := i.spec.Cgroup.Existing(filepath.Base(h.Cgroup))
		if err != nil {
			return fail(err)
		}
		p.group = g
		raise(&starts, lastNumber(h.Cgroup, "-")) // the next cgroup's name must be new
	}
	var ns *readySocket
	if notify != nil {
		conn, err := net.FileConn(notify)
		uc, ok := conn.(*net.UnixConn)
		if err != nil || !ok {
			return fail(fmt.Errorf("notify socket: %v", err))
		}
		ns = &readySocket{conn: uc, name: h.NotifyName, ready: make(chan struct{})}
		ns.once.Do(func() { close(ns.ready) }) // ready already
		raise(&notifySeq, lastNumber(h.NotifyName, "/"))
	}
	children.Lock()
	children.pids[h.PID] = true
	children.Unlock()
	p.watch(i.out, out)
	return p, ns, nil
}

// parentOf returns the parent of process pid.
func parentOf(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("pid %d: bad stat", pid)
	}
	return strconv.Atoi(f[1])
}

// lastNumber is the number after the last sep in name, or 0.
func lastNumber(name, sep string) uint64 {
	n, _ := strconv.ParseUint(name[strings.LastIndex(name, sep)+1:], 10, 64)
	return n
}

// raise makes seq at least n.
func raise(seq *atomic.Uint64, n uint64) {
	for {
		cur := seq.Load()
		if cur >= n || seq.CompareAndSwap(cur, n) {
			return
		}
	}
}
