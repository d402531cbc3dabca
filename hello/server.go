// Package hello is the built-in web server that `hellomgr serve` runs: one
// process per port answering "Hello Itcast!" on /, like the Tornado seed app,
// with Prometheus metrics on /metrics and a graceful drain that lets nginx
// replace it without a failed request.
//
// Run serves on a socket inherited from the manager (LISTEN_FDS=1, fd 3) when
// there is one, so that the kernel's accept queue outlives the process, and
// on a port of its own otherwise. Run says what happens on stop.
package hello

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/hellomgr/hellomgr/notify"
)

// Defaults for the zero values of Options.
const (
	DefaultMessage     = "Hello Itcast!"
	DefaultDrainGrace  = 500 * time.Millisecond
	DefaultStopTimeout = 10 * time.Second
)

// Limits that keep slow or hostile clients from pinning the server.
//
// The request line and headers must arrive within readHeaderTimeout, and
// the rest of the request within readTimeout once they have, the same: no
// route takes a body (every method but GET and HEAD is answered 405 at
// once). A keep-alive connection may stay idle between two requests for
// idleTimeout. The sweeper keeps these (sweep.go), not net/http, which
// would move a socket deadline, and its runtime timer, on every request.
// There is no write timeout: the largest answer (/metrics, about 10 KB)
// fits in the socket's send buffer, so a write never waits for the client
// to read; a client that stops reading stalls its own connection alone,
// as one that sends a request every minute can anyway.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = readHeaderTimeout
	// idleTimeout must be longer than the keepalive_timeout of the nginx
	// upstream in front (60s by default). The side that closes an idle
	// keep-alive connection races with the other side writing a request on
	// it: if nginx closes, it simply never reuses the connection; if we
	// close, nginx may already have sent a request and sees EOF or RST,
	// which it retries for GET but turns into a 502 for POST. So nginx must
	// always be the one to give up first.
	idleTimeout    = 75 * time.Second
	maxHeaderBytes = 64 << 10 // larger request headers get a 431 from net/http
)

// Options configures Run and Handler. The zero value is usable: it serves
// DefaultMessage without metrics on a listener chosen by Listener(0).
type Options struct {
	Port        int           // port to listen on when no socket is inherited and Listener is nil
	Listener    net.Listener  // if non-nil, serve on it instead of calling Listener(Port); Run closes it
	Message     string        // body of GET /; DefaultMessage if empty
	FailPercent int           // 0 to 100: answer 500 to this share of GET / (rehearsing a bad deploy)
	Metrics     bool          // serve /metrics and instrument every request; false means no instrumentation at all
	DrainGrace  time.Duration // how long idle keep-alive connections may carry a last request; DefaultDrainGrace if zero
	StopTimeout time.Duration // deadline for Shutdown once the grace is over; DefaultStopTimeout if zero
	Log         io.Writer     // one line per lifecycle event, and net/http's errors; nil discards them
	Version     string        // version label of the hello_info metric; "unknown" if empty

	// Test seams: wrap, if set, wraps the routes (to add test-only ones);
	// limits, where set, replace the timeouts above (to shorten them).
	wrap   func(http.Handler) http.Handler
	limits limits
}

func (o Options) withDefaults() Options {
	if o.Message == "" {
		o.Message = DefaultMessage
	}
	if o.DrainGrace <= 0 {
		o.DrainGrace = DefaultDrainGrace
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Version == "" {
		o.Version = "unknown"
	}
	o.limits.header = cmp.Or(o.limits.header, readHeaderTimeout)
	o.limits.read = cmp.Or(o.limits.read, readTimeout)
	o.limits.idle = cmp.Or(o.limits.idle, idleTimeout)
	return o
}

// Run serves HTTP until ctx is cancelled, then drains and returns nil.
//
// Run serves on opts.Listener if set, else on the listener returned by
// Listener(opts.Port). Once serving, it logs "listening" and, if
// NOTIFY_SOCKET is set, sends READY=1 to the service manager.
//
// When ctx is cancelled, Run drains without failing a request that a
// client has sent. In order, it sends STOPPING=1, closes the listener,
// marks every later response "Connection: close", waits until the open
// connections have carried their last request and closed or until
// opts.DrainGrace has passed, and then calls http.Server.Shutdown with a
// deadline of opts.StopTimeout, which closes idle connections and waits
// for active ones. It logs one line per step. Idle connections are not
// closed when the drain starts, since a client (nginx) may be writing a
// request on one at that very moment.
//
// Run returns an error without serving if it cannot listen. If accepting
// fails for good before ctx is cancelled, it shuts down and returns that
// error. If the drain does not finish within opts.StopTimeout, it closes
// the remaining connections and returns an error saying so.
func Run(ctx context.Context, opts Options) error {
	opts = opts.withDefaults()
	ln := opts.Listener
	if ln == nil {
		var err error
		if ln, err = Listener(opts.Port); err != nil {
			return err
		}
	}
	return newServer(opts).run(ctx, ln)
}

// server is one serving instance: the http.Server, and the connection
// tracker that decides when the drain is over and whose sweeper keeps the
// timeouts.
type server struct {
	opts  Options
	http  *http.Server
	conns *connTracker
	log   *log.Logger // opts.Log; serializes the lines of Run and of net/http
}

func newServer(opts Options) *server {
	conns := newConnTracker()
	logger := log.New(opts.Log, "hello: ", 0)
	h := Handler(opts)
	if opts.wrap != nil {
		h = opts.wrap(h)
	}
	// No ReadHeaderTimeout, ReadTimeout or IdleTimeout: the sweeper
	// keeps opts.limits.
	hs := &http.Server{
		Handler:        conns.closeWhenDraining(h),
		MaxHeaderBytes: maxHeaderBytes,
		ConnState:      conns.connState,
		ErrorLog:       logger,
	}
	return &server{opts: opts, http: hs, conns: conns, log: logger}
}

// run serves on ln until ctx is cancelled or Serve fails, and then drains.
// The sweeper runs until run returns, through the drain.
func (s *server) run(ctx context.Context, ln net.Listener) error {
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	defer stopSweep()
	go s.conns.sweep(sweepCtx, s.opts.limits)
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(trackingListener{ln, s.conns}) }()
	s.logf("listening on %s", describe(ln))
	s.notify("READY=1")

	select {
	case <-ctx.Done():
		return s.drain(ln, served)
	case err := <-served:
		s.logf("accept failed: %v", err)
		if serr := s.shutdown(); serr != nil {
			s.logf("%v", serr)
		}
		return fmt.Errorf("serve: %w", err)
	}
}

// logf writes one line to opts.Log.
func (s *server) logf(format string, args ...any) {
	s.log.Printf(format, args...)
}

// notify sends state to the service manager, logging a failure to do so.
func (s *server) notify(state string) {
	if err := notify.Send(state); err != nil {
		s.logf("%v", err)
	}
}
