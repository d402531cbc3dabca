package fakeproc

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/instance"
)

// ExitError is how a fake process ended, with the text of an
// *exec.ExitError: "exit status 3", "signal: killed".
type ExitError struct {
	Code   int            // the exit status, when Signal is 0
	Signal syscall.Signal // the signal that ended the process, or 0
	Reason string         // why a fake failed by itself, added to the text; usually ""
}

func (e *ExitError) Error() string {
	s := fmt.Sprintf("exit status %d", e.Code)
	if e.Signal != 0 {
		s = "signal: " + e.Signal.String()
	}
	if e.Reason != "" {
		s += " (fake: " + e.Reason + ")"
	}
	return s
}

// ExitCode is the exit status, or -1 when a signal ended the process, as
// *exec.ExitError's.
func (e *ExitError) ExitCode() int {
	if e.Signal != 0 {
		return -1
	}
	return e.Code
}

// Process is one fake process: an instance.Process, plus what a test
// tells it to do. Its methods are safe to call from any goroutine, and
// do nothing once it has exited.
type Process struct {
	l      *Launcher
	pid    int
	spec   instance.Spec
	plan   Plan
	exited chan error    // receives the exit, once
	done   chan struct{} // closed once exited

	mu    sync.Mutex
	over  bool
	timer *time.Timer     // a planned exit
	ln    net.Listener    // where it is ready, once Ready listened
	srv   *http.Server    // what answers on ln, for an HTTP probe
	out   *os.File        // the write end of its output pipe, once it printed
	taken <-chan struct{} // closed once spec.Output has read the pipe to its end
}

var (
	_ instance.Process  = (*Process)(nil)
	_ instance.Launcher = (*Launcher)(nil).Launch
)

func newProcess(l *Launcher, spec instance.Spec, plan Plan) *Process {
	return &Process{
		l: l, pid: int(lastPID.Add(1)), spec: spec, plan: plan,
		exited: make(chan error, 1), done: make(chan struct{}),
	}
}

// follow does what the plan says at the start.
func (p *Process) follow() {
	if p.plan.Ready {
		if err := p.Ready(); err != nil {
			p.exit(&ExitError{Code: 1, Reason: err.Error()})
			return
		}
	}
	if p.plan.Exit {
		p.exitAfter(p.plan.ExitAfter, p.plan.ExitCode)
	}
}

// PID is the fake pid, above any real one.
func (p *Process) PID() int { return p.pid }

// NotifyPID is the pid of the test process, which sends the fake's
// READY=1 (Ready).
func (p *Process) NotifyPID() int { return os.Getpid() }

// Spec is the spec the process was launched with (its Env holds
// NOTIFY_SOCKET with Probe.Notify).
func (p *Process) Spec() instance.Spec { return p.spec }

// Exited receives the process's exit once: nil for status 0, or an
// *ExitError.
func (p *Process) Exited() <-chan error { return p.exited }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop records the stop signal, and exits with status 0 after the plan's
// StopDelay, unless the plan ignores it. SIGKILL kills.
func (p *Process) Stop(sig syscall.Signal) error {
	p.l.record(&p.l.stopped, p.pid)
	switch {
	case sig == syscall.SIGKILL:
		p.Kill()
	case !p.plan.IgnoreStop:
		p.exitAfter(p.plan.StopDelay, 0)
	}
	return nil
}

// Kill records the kill, and ends the process at once, killed by SIGKILL.
func (p *Process) Kill() {
	p.l.record(&p.l.killed, p.pid)
	p.exit(&ExitError{Signal: syscall.SIGKILL})
}

// Exit ends the process with status code.
func (p *Process) Exit(code int) {
	if code == 0 {
		p.exit(nil)
		return
	}
	p.exit(&ExitError{Code: code})
}

// exitAfter exits with code after d, or at once for d ≤ 0.
func (p *Process) exitAfter(d time.Duration, code int) {
	if d <= 0 {
		p.Exit(code)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.timer == nil && !p.over {
		p.timer = time.AfterFunc(d, func() { p.Exit(code) })
	}
}

// exit ends the process once: it stops listening, closes its output
// (letting Spec.Output read the rest), then sends err on Exited, as a
// real process's exit comes once what it left is gone.
func (p *Process) exit(err error) {
	p.mu.Lock()
	if p.over {
		p.mu.Unlock()
		return
	}
	p.over = true
	if p.timer != nil {
		p.timer.Stop()
	}
	p.closeAll()
	taken := p.taken
	p.mu.Unlock()
	if taken != nil {
		select {
		case <-taken:
		case <-time.After(time.Second):
		}
	}
	p.exited <- err
	close(p.done)
}

// closeAll closes the listener, its server and the output pipe. Call
// with p.mu held.
func (p *Process) closeAll() {
	if p.srv != nil {
		p.srv.Close()
	}
	if p.ln != nil {
		p.ln.Close()
	}
	if p.out != nil {
		p.out.Close()
	}
}

// Ready makes the process ready as the instance's probe sees it: with
// Probe.Notify it sends READY=1 to its NOTIFY_SOCKET; otherwise it
// listens on the spec's port on 127.0.0.1 (with a Listener, which listens
// already, it listens on a copy of it) and, when the readiness or
// liveness probe is over HTTP, answers every request with 200 and
// "fake pid N". Safe to call more than once.
func (p *Process) Ready() error {
	if p.spec.Probe.Notify {
		return p.notify("READY=1")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.gone(); err != nil || p.ln != nil {
		return err
	}
	overHTTP := p.spec.Probe.HTTPPath != "" || p.spec.Liveness.HTTPPath != ""
	if p.spec.Listener != nil && !overHTTP {
		return nil // the port accepts connects already
	}
	ln, err := p.listen()
	if err != nil {
		return err
	}
	p.ln = ln
	if overHTTP {
		p.serve()
	}
	return nil
}

// gone is an error once the process has exited. Call with p.mu held.
func (p *Process) gone() error {
	if p.over {
		return fmt.Errorf("fake pid %d has exited", p.pid)
	}
	return nil
}

// listen listens on the spec's port, or on a copy of its Listener.
func (p *Process) listen() (net.Listener, error) {
	if p.spec.Listener != nil {
		return net.FileListener(p.spec.Listener)
	}
	return net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.spec.Port)))
}

// serve answers HTTP on p.ln. Call with p.mu held.
func (p *Process) serve() {
	body := fmt.Sprintf("fake pid %d\n", p.pid)
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, body)
	})}
	go p.srv.Serve(p.ln)
}

// notify sends msg to the process's NOTIFY_SOCKET, from the test
// process (NotifyPID).
func (p *Process) notify(msg string) error {
	p.mu.Lock()
	err := p.gone()
	p.mu.Unlock()
	if err != nil {
		return err
	}
	name := ""
	for _, kv := range p.spec.Env {
		if v, ok := strings.CutPrefix(kv, "NOTIFY_SOCKET="); ok {
			name = v
		}
	}
	if name == "" {
		return fmt.Errorf("fake pid %d: no NOTIFY_SOCKET in its environment", p.pid)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("fake pid %d: %w", p.pid, err)
	}
	defer conn.Close()
	_, err = conn.Write([]byte(msg))
	return err
}

// Print writes line to the process's output, which the spec's Output
// takes through a pipe, as a real process's (not inside a synctest
// bubble: the pipe's reader is a goroutine that waits on it).
func (p *Process) Print(line string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.gone(); err != nil {
		return err
	}
	if p.out == nil {
		if p.spec.Output == nil {
			return errors.New("fakeproc: Print needs Spec.Output")
		}
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		p.out = w
		p.taken, _ = p.spec.Output.Take(r, p.pid)
	}
	_, err := p.out.WriteString(line + "\n")
	return err
}
