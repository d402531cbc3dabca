package hello

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
)

// Header values shared by every response. net/http only reads them, so one
// slice can serve all requests without an allocation.
var (
	contentTypeHTML = []string{"text/html; charset=UTF-8"} // what Tornado sends with its error pages
	allowGetHead    = []string{"GET, HEAD"}
)

// Handler returns the routes of the server:
//
//   - GET and HEAD / answer 200 with opts.Message as the body, as the
//     Tornado seed app does, typed as net/http sniffs it (text/plain for
//     the default message; see hello.serve);
//   - GET and HEAD /metrics answer this instance's Prometheus metrics, if
//     opts.Metrics is set (otherwise /metrics is not found);
//   - any other method on those paths answers 405 with "Allow: GET, HEAD";
//   - any other path answers 404.
//
// Error pages are Tornado's default ones. With opts.Metrics set, every
// request, /metrics included, is counted and timed; each call to Handler
// makes a new metrics registry, so two handlers never share counts.
func Handler(opts Options) http.Handler {
	opts = opts.withDefaults()
	rt := &router{hello: newHello(opts.Message)}
	if opts.FailPercent > 0 {
		rt.failEvery = int64(100 / opts.FailPercent)
	}
	if !opts.Metrics {
		return rt
	}
	m := newMetrics(opts.Version)
	rt.metrics = m.handler()
	return m.instrument(rt.route)
}

// router dispatches on the exact path. It is a switch rather than a
// ServeMux so that, like Tornado, it does not redirect unclean paths.
type router struct {
	hello   hello
	metrics http.Handler // nil when metrics are off
	// failEvery, when above 0, makes every failEvery-th GET / a 500:
	// Options.FailPercent, a rehearsal of a bad deploy.
	failEvery int64
	served    atomic.Int64
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) { rt.route(w, r) }

// route answers r and returns the status code of the answer, so that the
// metrics need not wrap the ResponseWriter to learn it, but for /metrics.
func (rt *router) route(w http.ResponseWriter, r *http.Request) int {
	var found bool
	switch r.URL.Path {
	case "/":
		found = true
	case "/metrics":
		found = rt.metrics != nil
	}
	switch {
	case !found:
		return writeError(w, http.StatusNotFound)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header()["Allow"] = allowGetHead
		return writeError(w, http.StatusMethodNotAllowed)
	case r.URL.Path == "/" && rt.failEvery > 0 && rt.served.Add(1)%rt.failEvery == 0:
		return writeError(w, http.StatusInternalServerError)
	case r.URL.Path == "/":
		return rt.hello.serve(w, r)
	}
	return serveCounted(rt.metrics, w, r)
}

// hello answers every request with its message, as Tornado's write(msg).
type hello struct {
	body   []byte
	length []string // Content-Length, for HEAD
	ctype  []string // Content-Type, for HEAD: what net/http sniffs for GET
}

func newHello(msg string) hello {
	return hello{
		body:   []byte(msg),
		length: []string{strconv.Itoa(len(msg))},
		ctype:  []string{http.DetectContentType([]byte(msg))},
	}
}

// serve writes the body and leaves every header to net/http: the
// Content-Length of a body this small, and the Content-Type it sniffs
// from the body. Setting any header ourselves, even Tornado's
// "text/html; charset=UTF-8", makes net/http copy the header map for each
// response and write it out key by key: 8% of the throughput of a hello
// server (bench/builtin). HEAD has no body to count or sniff, so it is
// told both, the same as GET gets.
func (h hello) serve(w http.ResponseWriter, r *http.Request) int {
	if r.Method == http.MethodHead {
		hd := w.Header()
		hd["Content-Length"] = h.length
		hd["Content-Type"] = h.ctype
		w.WriteHeader(http.StatusOK)
		return http.StatusOK
	}
	w.Write(h.body)
	return http.StatusOK
}

// writeError sends Tornado's default error page for code, and returns
// code.
func writeError(w http.ResponseWriter, code int) int {
	page := fmt.Sprintf("<html><title>%[1]d: %[2]s</title><body>%[1]d: %[2]s</body></html>",
		code, http.StatusText(code))
	h := w.Header()
	h["Content-Type"] = contentTypeHTML
	h.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(code)
	w.Write([]byte(page))
	return code
}
