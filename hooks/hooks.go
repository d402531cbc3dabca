// Package hooks runs the commands a config names for an instance's state
// changes (`hooks.on_failed`, `hooks.on_restart`), such as a curl that
// posts to a webhook.
//
// A hook never holds up supervision: Queue.Run returns at once and the
// command runs on a goroutine of its own. One Queue per port and hook
// keeps at most one command running; an event that comes while one runs
// waits, and a later one takes its place (the latest state is what a
// receiver wants to hear), so a burst of restarts runs the hook twice at
// most, never once per restart. A command still running at its timeout is
// killed with its process group, and that is logged once.
package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
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
}

// Queue runs one hook of one port, one command at a time. The zero value
// is ready to use; a Queue must not be copied once used.
type Queue struct {
	mu      sync.Mutex
	running bool
	next    *job // waits for the running one; a later event replaces it
	idle    chan struct{}
}

type job struct {
	c Command
	e Event
}

// Run runs c for e on a goroutine of its own, or, while a command of q
// runs, keeps it to run next in place of any event kept before. It
// returns at once. A Command without Argv does nothing.
func (q *Queue) Run(c Command, e Event) {
	if len(c.Argv) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.running {
		q.next = &job{c, e}
		return
	}
	q.running = true
	q.idle = make(chan struct{})
	go q.loop(job{c, e})
}

// Wait returns once no command of q runs or waits, or ctx ends (tests).
func (q *Queue) Wait(ctx context.Context) error {
	q.mu.Lock()
	idle := q.idle
	q.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (q *Queue) loop(j job) {
	for {
		run(j.c, j.e)
		q.mu.Lock()
		if q.next == nil {
			q.running = false
			close(q.idle)
			q.mu.Unlock()
			return
		}
		j, q.next = *q.next, nil
		q.mu.Unlock()
	}
}

// outputLimit bounds the output of a hook kept for the log.
const outputLimit = 2048

// run runs one command to its end or its timeout, and logs how it went.
func run(c Command, e Event) {
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("hook", c.Name, "port", e.Port)
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), e.Env()...)
	// A group of its own, so that the timeout ends what the hook started
	// too (a curl behind an sh -c); and it dies with the manager.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second // a grandchild holding the output pipe
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	begun := time.Now()
	err := cmd.Run()
	took := time.Since(begun).Round(time.Millisecond)
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		log.Warn(fmt.Sprintf("hook killed after its timeout of %s (hooks.timeout)", c.Timeout), "reason", e.Reason, "output", out.String())
	case err != nil:
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			log.Warn("hook did not run", "err", err)
			return
		}
		log.Warn("hook failed", "reason", e.Reason, "err", err, "took", took, "output", out.String())
	default:
		log.Info("hook ran", "reason", e.Reason, "took", took)
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
