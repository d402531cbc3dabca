package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"
)

// The progress of a streamed reply never waits for its client: the
// operation (a rollout of 1,024 ports, a stop) puts each event in a
// bounded queue and goes on, and the handler's goroutine writes the queue
// out, each write with a deadline. A client that does not keep up (one
// that stopped reading: `hellomgr reload | less` left at its first page,
// a hung script) is dropped, once its queue is full or a write has waited
// writeTimeout, and the log says so; the operation goes on to its end.

const (
	// streamQueue bounds the events kept for a client that reads slower
	// than they come: a reload of every port fits.
	streamQueue = 4096
	// writeTimeout is how long a client may leave a line unread.
	writeTimeout = 10 * time.Second
)

// queued is one event to write; done, when set, is closed once it was
// written or the client dropped.
type queued struct {
	e    Event
	done chan struct{}
}

// eventStream is the queue between an operation and its client.
type eventStream struct {
	w    http.ResponseWriter
	r    *http.Request
	log  *slog.Logger
	mu   sync.Mutex
	q    chan queued   // closed by finish, under mu
	gone chan struct{} // closed when the client is dropped, under mu
	shut bool          // q is closed or the client dropped
}

// streamEvents runs fn on a goroutine of its own and writes the events it
// sends, as JSON lines, ending with a Done or Error event. A panic in fn
// ends the reply with an Error event (internalError). It returns once the
// reply is written or the client dropped; fn may still run then, and its
// later events go nowhere.
func streamEvents(w http.ResponseWriter, r *http.Request, fn func(send func(Event)) error) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	s := &eventStream{w: w, r: r, log: logFrom(r.Context()), q: make(chan queued, streamQueue), gone: make(chan struct{})}
	go func() {
		var err error
		defer func() {
			if v := recover(); v != nil {
				err = internalError(s.log, r, v)
			}
			s.finish(err)
		}()
		err = fn(s.send)
	}()
	s.write()
}

// send queues e without waiting, unless e.Exec: the manager replaces its
// program next, so that line waits until it was written (at most
// writeTimeout) or the client dropped.
func (s *eventStream) send(e Event) {
	var done chan struct{}
	if e.Exec {
		done = make(chan struct{})
	}
	s.mu.Lock()
	if s.shut {
		s.mu.Unlock()
		return
	}
	select {
	case s.q <- queued{e, done}:
	default:
		s.dropLocked(fmt.Sprintf("it left %d lines unread", streamQueue))
		done = nil
	}
	gone := s.gone
	s.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-gone:
		}
	}
}

// finish queues the last event, Done or Error, and closes the queue.
func (s *eventStream) finish(err error) {
	last := Event{Done: true}
	if err != nil {
		last = Event{Error: err.Error()}
	}
	s.send(last)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.shut {
		s.shut = true
		close(s.q)
	}
}

// dropLocked stops queueing for the client and says why. Call with mu
// held.
func (s *eventStream) dropLocked(why string) {
	if !s.shut {
		s.shut = true
		close(s.q) // the writer stops
	}
	select {
	case <-s.gone:
		return
	default:
		close(s.gone)
	}
	s.log.Warn(fmt.Sprintf("dropped a control client of %s %s: %s; what it asked for goes on", s.r.Method, s.r.URL.Path, why))
}

// write writes the queued events out until the queue is closed, each with
// a deadline; a write that fails drops the client.
func (s *eventStream) write() {
	rc := http.NewResponseController(s.w)
	enc := json.NewEncoder(s.w)
	for item := range s.q {
		rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		err := enc.Encode(item.e)
		if err == nil {
			err = rc.Flush()
		}
		if item.done != nil {
			close(item.done)
		}
		if err != nil {
			s.lost(err)
			return
		}
	}
	// The reply's end, too, is written by a deadline.
	rc.SetWriteDeadline(time.Now().Add(writeTimeout))
}

// lost drops a client whose write failed: one that hung up (Ctrl-C on
// `hellomgr reload`) is no news, one that stopped reading is.
func (s *eventStream) lost(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.dropLocked(fmt.Sprintf("a line stayed unread for %s", writeTimeout))
		return
	}
	if !s.shut {
		s.shut = true
		close(s.q)
	}
	s.log.Info(fmt.Sprintf("a control client of %s %s hung up; what it asked for goes on", s.r.Method, s.r.URL.Path), "err", err)
}
