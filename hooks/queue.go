package hooks

import (
	"context"
	"sync"
)

// Queue runs one hook of one port, one command at a time. The zero value
// is ready to use; a Queue must not be copied once used.
type Queue struct {
	mu      sync.Mutex
	running bool          // a goroutine of q runs its commands
	next    *job          // waits for the running one; a later event replaces it
	idle    chan struct{} // closed once nothing runs or waits; nil before the first Run
}

type job struct {
	c Command
	e Event
}

// Run runs c for e on a goroutine of its own, or, while a command of q
// runs (or every hook is held, EndAll), keeps it to run next in place of
// any event kept before. It returns at once. A Command without Argv does
// nothing.
func (q *Queue) Run(c Command, e Event) {
	if len(c.Argv) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.idle == nil || q.next == nil && !q.running {
		q.idle = make(chan struct{})
	}
	q.next = &job{c, e}
	if !q.running {
		if ex := c.set().admit(q); ex != nil {
			q.running = true
			go q.loop(ex)
		}
	}
}

// wait returns once no command of q runs or waits, or ctx ends (tests).
// A command kept while every hook is held waits until Resume.
func (q *Queue) wait(ctx context.Context) error {
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

// loop runs the kept jobs until none is left, or every hook is held.
func (q *Queue) loop(ex *execution) {
	for {
		q.mu.Lock()
		j := q.next
		q.next = nil
		q.mu.Unlock()
		run(j.c, j.e, ex)
		j.c.set().finished(ex)
		q.mu.Lock()
		if ex = nil; q.next != nil {
			ex = q.next.c.set().admit(q)
		}
		if ex == nil {
			q.running = false
			if q.next == nil {
				close(q.idle)
			}
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
	}
}

// Set is the hooks of one manager, wherever they were queued, so that
// they end together: `down` and an upgrade's exec must end them all, or
// what they started outlives the manager (and a hook running at the exec
// is left a zombie of the new program). The zero value is ready to use;
// a Set must not be copied once used.
type Set struct {
	mu      sync.Mutex
	held    bool // EndAll was called, and no Resume since
	running map[*execution]bool
	waiting []*Queue // queues with a job kept while held
}

// unset holds the commands of no Set: they are never held.
var unset Set

func (c Command) set() *Set {
	if c.Set != nil {
		return c.Set
	}
	return &unset
}

// execution is one command running: end asks it to stop now, done says
// it has, with what it started.
type execution struct {
	end  chan struct{}
	done chan struct{}
	once sync.Once // closes end
}

// stop asks ex to end now; safe to call twice.
func (ex *execution) stop() { ex.once.Do(func() { close(ex.end) }) }

// admit returns the execution q may run its next job as, or nil while
// every hook is held (q is then run on Resume). Call with q.mu held.
func (s *Set) admit(q *Queue) *execution {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held {
		s.waiting = append(s.waiting, q)
		return nil
	}
	ex := &execution{end: make(chan struct{}), done: make(chan struct{})}
	if s.running == nil {
		s.running = map[*execution]bool{}
	}
	s.running[ex] = true
	return ex
}

func (s *Set) finished(ex *execution) {
	s.mu.Lock()
	delete(s.running, ex)
	s.mu.Unlock()
	close(ex.done)
}

// EndAll ends every hook command of s, for `down` and before the exec
// of an upgrade: from now on no command starts (each
// queue keeps its latest event, as while one of its commands runs); those
// running get until ctx ends to finish, and are then killed with
// everything they started (cgroup, or process group and descendants). It
// returns once each has ended and what it left was ended too, and says
// how many it had to kill. Resume undoes the hold. Safe to call twice.
func (s *Set) EndAll(ctx context.Context) (killed int) {
	s.mu.Lock()
	s.held = true
	var running []*execution
	for ex := range s.running {
		running = append(running, ex)
	}
	s.mu.Unlock()
	for _, ex := range running {
		select {
		case <-ex.done:
			continue
		case <-ctx.Done():
		}
		ex.stop()
		<-ex.done
		killed++
	}
	return killed
}

// Resume lets the hooks of s run again after EndAll (an upgrade that
// did not replace the program), starting the latest event each queue
// kept.
func (s *Set) Resume() {
	s.mu.Lock()
	s.held = false
	waiting := s.waiting
	s.waiting = nil
	s.mu.Unlock()
	for _, q := range waiting {
		q.mu.Lock()
		if !q.running && q.next != nil {
			if ex := s.admit(q); ex != nil {
				q.running = true
				go q.loop(ex)
			}
		}
		q.mu.Unlock()
	}
}
