// Package hooks runs the commands a config names for an instance's state
// changes (`hooks.on_failed`, `hooks.on_restart`), such as a curl that
// posts to a webhook.
//
// A hook never holds up supervision: Queue.Run returns at once and the
// command runs on a goroutine of its own. One Queue per port and hook
// keeps at most one command running; an event that comes while one runs
// waits, and a later one takes its place (the latest state is what a
// receiver wants to hear), so a burst of restarts runs the hook twice at
// most, never once per restart.
//
// A hook is contained as an instance is (contain.go): what it starts is
// ended once it exits, and with it when it is still running at its
// timeout or at Set.EndAll (`down`, an upgrade's exec). The log says which,
// and how many processes it left.
package hooks

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/cgroup"
)

// Event is what a hook is told, in its environment: PORT, PID, STATE,
// REASON and LAST_EXIT.
type Event struct {
	Port     int
	PID      int    // the process the event is about; 0 (PID empty) when none is
	State    string // the instance's state: backoff, ready, failed...
	Reason   string // exited, crashed, killed, not-ready, liveness, memory, gave-up
	LastExit *int   // the exit code of the process that exited (-1: a signal); nil (LAST_EXIT empty) when it still runs
}

// Env returns the variables the event adds to the hook's environment.
func (e Event) Env() []string {
	pid, last := "", ""
	if e.PID > 0 {
		pid = strconv.Itoa(e.PID)
	}
	if e.LastExit != nil {
		last = strconv.Itoa(*e.LastExit)
	}
	return []string{"PORT=" + strconv.Itoa(e.Port), "PID=" + pid, "STATE=" + e.State, "REASON=" + e.Reason, "LAST_EXIT=" + last}
}

// Command is one configured hook.
type Command struct {
	Name    string   // "on_restart", for the log
	Argv    []string // run directly, never through a shell
	Dir     string   // its working directory
	Timeout time.Duration
	Log     *slog.Logger
	// Cgroup, when set, is the manager's cgroup tree: the command runs in
	// a cgroup of its own there (contain.go). Nil: its process group.
	Cgroup *cgroup.Tree
	// Set, when set, is the manager's hooks, which Set.EndAll ends
	// together. Nil: the command is ended only by its timeout.
	Set *Set
}

// outputLimit bounds the output of a hook kept for the log.
const outputLimit = 2048

// run runs one command to its end, its timeout, or ex.end, ends what
// it left (contain.go), and logs how it went.
func run(c Command, e Event, ex *execution) {
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("hook", c.Name, "port", e.Port)
	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), e.Env()...)
	// It dies with the manager, and what it started with its cgroup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r, w, err := os.Pipe()
	if err != nil {
		log.Warn("hook did not run", "err", fmt.Errorf("output pipe: %w", err))
		return
	}
	cmd.Stdout, cmd.Stderr = w, w
	j, err := start(cmd, c.Cgroup, c, e.Port)
	w.Close()
	if err != nil {
		r.Close()
		log.Warn("hook did not run", "err", err)
		return
	}
	output := collect(r)
	begun := time.Now()
	end := ""
	timer := time.NewTimer(c.Timeout)
	defer timer.Stop()
	exited := j.exited()
	select {
	case <-exited:
	case <-timer.C:
		end = fmt.Sprintf("hook killed after its timeout of %s (hooks.timeout)", c.Timeout)
		j.kill()
	case <-ex.end:
		end = "hook ended before it finished, as the manager stops or replaces its program"
		j.kill()
	}
	<-exited
	left, endErr := j.end()
	err = cmd.Wait()
	took := time.Since(begun).Round(time.Millisecond)
	attrs := []any{"reason", e.Reason, "took", took, "output", output()}
	if endErr != nil {
		attrs = append(attrs, "containment", endErr.Error())
	}
	report(log, end, err, left, attrs)
}

// report logs how a hook went: end says why it was killed, if it was;
// left is how many processes it had started that were still there then.
func report(log *slog.Logger, end string, err error, left int, attrs []any) {
	switch {
	case end != "" && left > 0:
		log.Warn(fmt.Sprintf("%s, with %s it started", end, processes(left)), attrs...)
	case end != "":
		log.Warn(end, attrs...)
	case err != nil:
		log.Warn("hook ran and failed"+leftover(left), append(attrs, "err", err)...)
	case left > 0:
		log.Warn("hook ran"+leftover(left), attrs...)
	default:
		log.Info("hook ran", attrs...)
	}
}

// leftover says what a hook that exited left, which was ended.
func leftover(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return ", and left 1 process running, which was ended"
	}
	return fmt.Sprintf(", and left %d processes running, which were ended", n)
}

func processes(n int) string {
	if n == 1 {
		return "1 process"
	}
	return fmt.Sprintf("%d processes", n)
}

// collect reads the hook's output from r, keeping the first outputLimit
// bytes, until every writer has closed it. The function it returns gives
// what was kept, waiting a second at most for the end: what the hook
// left is ended by then, but a process that escaped it may hold the pipe.
func collect(r *os.File) func() string {
	var out limitedBuffer
	done := make(chan struct{})
	go func() {
		io.Copy(&out, r)
		r.Close()
		close(done)
	}()
	return func() string {
		select {
		case <-done:
		case <-time.After(time.Second):
		}
		return out.String()
	}
}

// limitedBuffer keeps the first outputLimit bytes written to it.
type limitedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := outputLimit - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.b.String())
}
