package hello

import (
	"fmt"
	"net/http"
	"strconv"
)

// Header values shared by every response. net/http only reads them, so one
// slice can serve all requests without an allocation.
var (
	contentTypeHTML = []string{"text/html; charset=UTF-8"} // what Tornado sends for write(str)
	allowGetHead    = []string{"GET, HEAD"}
)

// Handler returns the routes of the server:
//
//   - GET and HEAD / answer 200 with opts.Message as a text/html body, as
//     the Tornado seed app does;
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
	rt := &router{hello: helloHandler(opts.Message)}
	if !opts.Metrics {
		return rt
	}
	m := newMetrics(opts.Version)
	rt.metrics = m.handler()
	return m.instrument(rt)
}

// router dispatches on the exact path. It is a switch rather than a
// ServeMux so that, like Tornado, it does not redirect unclean paths.
type router struct {
	hello   http.Handler
	metrics http.Handler // nil when metrics are off
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var h http.Handler
	switch r.URL.Path {
	case "/":
		h = rt.hello
	case "/metrics":
		h = rt.metrics
	}
	switch {
	case h == nil:
		writeError(w, http.StatusNotFound)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header()["Allow"] = allowGetHead
		writeError(w, http.StatusMethodNotAllowed)
	default:
		h.ServeHTTP(w, r)
	}
}

// helloHandler answers every request with msg, as Tornado's write(msg).
func helloHandler(msg string) http.Handler {
	body := []byte(msg)
	length := []string{strconv.Itoa(len(body))}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = contentTypeHTML
		h["Content-Length"] = length
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(body)
		}
	})
}

// writeError sends Tornado's default error page for code.
func writeError(w http.ResponseWriter, code int) {
	page := fmt.Sprintf("<html><title>%[1]d: %[2]s</title><body>%[1]d: %[2]s</body></html>",
		code, http.StatusText(code))
	h := w.Header()
	h["Content-Type"] = contentTypeHTML
	h.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(code)
	w.Write([]byte(page))
}
