package hello

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// gate holds the test-only GET /slow handler until release is closed.
type gate struct {
	entered chan struct{} // closed when a /slow request has started
	release chan struct{}
	once    sync.Once
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}), release: make(chan struct{})}
}

// testRoutes adds POST /echo, which reads the body and sends it back, and,
// if g is not nil, GET /slow, which waits for g.release.
func testRoutes(g *gate) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/", next)
		mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Write(body)
		})
		if g != nil {
			mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
				g.once.Do(func() { close(g.entered) })
				<-g.release
				io.WriteString(w, "slow done")
			})
		}
		return mux
	}
}

// result is what a client got for one request.
type result struct {
	err    error
	wrote  bool // the request was written to a connection
	reused bool // on a connection used before
	close  bool // the response said "Connection: close"
	body   string
}

// do sends req and reports what happened to it on the wire.
func do(c *http.Client, req *http.Request) result {
	var r result
	trace := &httptrace.ClientTrace{
		GotConn:      func(info httptrace.GotConnInfo) { r.reused = info.Reused },
		WroteRequest: func(info httptrace.WroteRequestInfo) { r.wrote = r.wrote || info.Err == nil },
	}
	resp, err := c.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err != nil {
		r.err = err
		return r
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	r.err, r.close, r.body = err, resp.Close, string(body)
	if err == nil && resp.StatusCode != 200 {
		r.err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return r
}

func post(c *http.Client, url, body string) result {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	return do(c, req)
}

// TestDrainKeepAlive is the drain the way nginx sees it: a keep-alive
// connection that is idle when the drain starts must still carry one more
// POST (closing it at once, as SetKeepAlivesEnabled(false) or a plain
// Shutdown would, races with the client writing on it), that answer must
// tell the client to close, and the next POST must find the port closed
// before anything is sent. Meanwhile a slow request in flight on another
// connection completes, and Run returns nil.
func TestDrainKeepAlive(t *testing.T) {
	g := newGate()
	// A long grace, which ends early once every connection is closed.
	in := start(t, Options{DrainGrace: waitLimit, wrap: testRoutes(g)})

	slow := make(chan result, 1)
	go func() {
		c := newClient(t)
		req, _ := http.NewRequest("GET", in.url+"/slow", nil)
		slow <- do(c, req)
		c.CloseIdleConnections()
	}()
	waitFor(t, g.entered, "slow request started")

	c := newClient(t)
	for i := range 20 {
		if r := post(c, in.url+"/echo", "before"); r.err != nil || r.close || (i > 0 && !r.reused) {
			t.Fatalf("POST %d before the drain: %+v, want an answer on a kept-alive connection", i, r)
		}
	}
	in.cancel()
	in.logs.wait(t, "draining:")

	r := post(c, in.url+"/echo", "during")
	switch {
	case r.err != nil:
		t.Errorf("POST on the idle connection after the drain started: %v (sent: %v)", r.err, r.wrote)
	case !r.reused:
		t.Errorf("POST after the drain started: on a new connection, want the idle one")
	case !r.close:
		t.Errorf("POST after the drain started: answered without Connection: close")
	case r.body != "during":
		t.Errorf("POST after the drain started: got body %q, want %q", r.body, "during")
	}
	if r := post(c, in.url+"/echo", "after"); r.err == nil || r.wrote {
		t.Errorf("POST after the last answer: got %+v, want an error before sending", r)
	}

	if in.returned() {
		t.Fatalf("Run returned with a request in flight; log:\n%s", in.logs)
	}
	close(g.release)
	if r := waitFor(t, slow, "slow request answered"); r.err != nil || r.body != "slow done" {
		t.Errorf("slow request in flight during the drain: got %q, %v; want %q", r.body, r.err, "slow done")
	}
	if err := in.wait(t); err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
	for _, want := range []string{"listening on", "draining:", "shutting down:", "stopped"} {
		in.logs.wait(t, want)
	}
}

// TestDrainUnderLoad stops the server in the middle of a loop of POSTs on
// one keep-alive connection: each POST either gets its answer or is never
// sent (the client cannot connect), and the last answer tells the client
// to close.
func TestDrainUnderLoad(t *testing.T) {
	in := start(t, Options{DrainGrace: waitLimit, wrap: testRoutes(nil)})
	started := make(chan struct{})
	results := make(chan []result, 1)
	go func() {
		c := newClient(t)
		var rs []result
		for i := 0; ; i++ {
			if i == 20 {
				close(started)
			}
			r := post(c, in.url+"/echo", fmt.Sprintf("post %d", i))
			if r.err == nil && r.body != fmt.Sprintf("post %d", i) {
				r.err = fmt.Errorf("got body %q", r.body)
			}
			rs = append(rs, r)
			if r.err != nil {
				results <- rs
				return
			}
		}
	}()
	waitFor(t, started, "20 POSTs answered")
	in.cancel()
	rs := waitFor(t, results, "POST loop ended by the drain")
	if err := in.wait(t); err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}

	last := rs[len(rs)-1]
	if last.wrote {
		t.Errorf("POST %d was sent and then failed: %v", len(rs)-1, last.err)
	}
	ok := rs[:len(rs)-1]
	for i, r := range ok {
		if i > 0 && !r.reused && !ok[i-1].close {
			t.Errorf("POST %d: on a new connection although the previous answer kept it open", i)
		}
	}
	if !ok[len(ok)-1].close {
		t.Errorf("last POST answered without Connection: close: the server closed the connection under the client")
	}
}

// TestHandoffSharedSocket runs two generations of the server on one
// listening socket (two descriptors of it, as a manager handing the socket
// to a new process would): the first drains while the second takes over,
// and clients on keep-alive connections see no error at all.
func TestHandoffSharedSocket(t *testing.T) {
	ln1 := listen(t)
	f, err := ln1.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	gen1 := startOn(t, ln1, Options{Message: "gen1", DrainGrace: waitLimit, wrap: testRoutes(nil)})

	const workers = 4
	gen1Gone := make(chan struct{})
	var warm, done sync.WaitGroup
	errs := make(chan error, workers)
	warm.Add(workers)
	done.Add(workers)
	for w := range workers {
		go func() {
			defer done.Done()
			c := newClient(t)
			errs <- handoffClient(c, gen1.url, w, &warm, gen1Gone)
			c.CloseIdleConnections()
		}()
	}
	waitFor(t, waitGroup(&warm), "every client answered by gen1")
	startOn(t, ln2, Options{Message: "gen2", wrap: testRoutes(nil)})
	if err := gen1.stop(t); err != nil {
		t.Errorf("gen1: Run returned %v, want nil", err)
	}
	close(gen1Gone)
	waitFor(t, waitGroup(&done), "every client answered by gen2")
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// handoffClient alternates GET / and POST /echo until it has had 10
// answers from gen2 after gen1 is gone. It returns the first error, or an
// answer from gen1 after gen1 is gone.
func handoffClient(c *http.Client, url string, w int, warm *sync.WaitGroup, gen1Gone <-chan struct{}) error {
	fromGen2 := 0
	for i := 0; fromGen2 < 10; i++ {
		var gone bool
		select {
		case <-gen1Gone:
			gone = true
		default:
		}
		r := post(c, url+"/echo", "x")
		if r.err != nil {
			return fmt.Errorf("client %d: POST %d: %v (sent: %v)", w, i, r.err, r.wrote)
		}
		req, _ := http.NewRequest("GET", url+"/", nil)
		r = do(c, req)
		switch {
		case r.err != nil:
			return fmt.Errorf("client %d: GET %d: %v (sent: %v)", w, i, r.err, r.wrote)
		case i == 0 && r.body != "gen1":
			return fmt.Errorf("client %d: first GET answered %q, want gen1", w, r.body)
		case i == 0:
			warm.Done()
		case gone && r.body != "gen2":
			return fmt.Errorf("client %d: GET %d answered %q after gen1 stopped", w, i, r.body)
		case gone:
			fromGen2++
		}
	}
	return nil
}

// waitGroup returns a channel closed when wg is done.
func waitGroup(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		wg.Wait()
		close(ch)
	}()
	return ch
}

// TestDrainIdleEndsEarly checks that the grace period ends as soon as the
// last connection is gone, rather than always lasting DrainGrace: with no
// client at all, a very long grace must not hold Run.
func TestDrainIdleEndsEarly(t *testing.T) {
	in := start(t, Options{DrainGrace: time.Hour})
	if err := in.stop(t); err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
}

// TestDrainBlockingSocket checks that the drain does not hang when another
// holder of the shared socket has put it in blocking mode, as a manager's
// exec.Cmd does when it passes the socket on through ExtraFiles: accept(2)
// then blocks in the kernel, where closing the listener cannot reach it.
func TestDrainBlockingSocket(t *testing.T) {
	ln := listen(t) // the manager's socket
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	own, err := net.FileListener(f) // the instance's copy
	if err != nil {
		t.Fatal(err)
	}
	in := startOn(t, own, Options{})

	if err := syscall.SetNonblock(int(f.Fd()), false); err != nil {
		t.Fatal(err)
	}
	// A new connection makes Serve call accept(2) again, in blocking mode.
	c := newClient(t)
	if code, _ := get(t, c, in.url+"/"); code != 200 {
		t.Fatalf("GET /: got %d, want 200", code)
	}
	c.CloseIdleConnections()
	waitAcceptBlocked(t)

	if err := in.stop(t); err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
	in.logs.wait(t, "accept is blocked in the kernel")
}

// waitAcceptBlocked waits until a thread of this process sleeps in
// accept(2) in the kernel, as /proc/self/task/*/wchan shows. It skips the
// test where the kernel does not show that.
func waitAcceptBlocked(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		wchans := threadWchans()
		if len(wchans) == 0 {
			t.Skip("the kernel shows no thread's wchan in /proc")
		}
		for _, w := range wchans {
			if strings.Contains(w, "accept") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no thread blocked in accept(2) after %v: %q", waitLimit, wchans)
		}
		time.Sleep(time.Millisecond) // polling, not a measure
	}
}

// threadWchans returns where each thread of this process sleeps in the
// kernel, leaving out those the kernel does not name.
func threadWchans() []string {
	paths, _ := filepath.Glob("/proc/self/task/*/wchan")
	var wchans []string
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) > 0 && string(b) != "0" {
			wchans = append(wchans, string(b))
		}
	}
	return wchans
}
