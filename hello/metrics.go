package hello

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics holds one server's collectors in a registry of its own, so that
// two servers in one process (tests, a handoff) never mix their counts.
//
// Label cardinality is bounded: requests are labelled by status code and
// method only, never by path; as promhttp does, every method outside a
// fixed set (get, head, post, put, ...) counts as "unknown", and so does
// a status code outside 100-599.
//
// The request counts and durations are kept by the server itself, in
// atomic counters (series), and turned into http_requests_total and
// http_request_duration_seconds at scrape time (Describe, Collect): the
// same names, help, labels, buckets and values as promhttp's middleware
// over a CounterVec and a HistogramVec would give, at a fraction of the
// cost per request (see instrument).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.Desc
	duration *prometheus.Desc
	inFlight atomic.Int64 // requests being handled, for http_requests_in_flight

	// routed holds a series for each method and each code the routes
	// answer with, made in advance; one is exposed once it has counted a
	// request. Any other code (only promhttp's, on /metrics) takes a
	// series from other, made on first use.
	routed [len(methods)][len(routedCodes)]series
	mu     sync.Mutex
	other  map[int]*series // by methodIndex<<10 | code
}

// routedCodes are the status codes the routes answer with.
var routedCodes = [...]int{http.StatusOK, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusInternalServerError}

func newMetrics(version string) *metrics {
	labels := []string{"code", "method"}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewDesc("http_requests_total",
			"HTTP requests answered, by status code and method.", labels, nil),
		duration: prometheus.NewDesc("http_request_duration_seconds",
			"Time from the start of the handler to its end, by status code and method.", labels, nil),
		other: make(map[int]*series),
	}
	for mi := range m.routed {
		for ci, code := range routedCodes {
			m.routed[mi][ci].labels = [2]string{strconv.Itoa(code), methods[mi]}
		}
	}
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "http_requests_in_flight",
		Help: "HTTP requests being handled now.",
	}, func() float64 { return float64(m.inFlight.Load()) })
	m.reg.MustRegister(
		m, inFlight, newInfo(version),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	return m
}

// newInfo returns the hello_info gauge of a server of version that starts
// now.
func newInfo(version string) prometheus.Gauge {
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hello_info",
		Help: "Always 1; labels give the version and the start time (RFC 3339) of this server.",
		ConstLabels: prometheus.Labels{
			"version":    version,
			"start_time": time.Now().UTC().Format(time.RFC3339),
		},
	})
	info.Set(1)
	return info
}

// handler serves the registry in the Prometheus exposition formats.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// instrument makes a handler of route that every request is counted, timed and
// tracked while in flight. It does the work of promhttp's
// InstrumentHandlerInFlight, InstrumentHandlerDuration and
// InstrumentHandlerCounter, with the same label values, at a fraction of
// their cost: those build two label maps, look the series up by hashing
// them and wrap the ResponseWriter twice on every request, about 850ns and
// 6 allocations, which cost this server some 10% of its throughput. Here
// route returns the status it answered with (the router knows it; only
// /metrics, served by promhttp, needs a wrapper to learn it: see
// serveCounted), its series is found in an array by method and code, a request
// costs two reads of the monotonic clock and two atomic adds, and the
// in-flight count is one atomic add each way.
//
// If route panics, the request is not counted, as with promhttp.
func (m *metrics) instrument(route func(http.ResponseWriter, *http.Request) int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.inFlight.Add(1)
		defer m.inFlight.Add(-1)
		start := time.Since(epoch)
		code := route(w, r)
		m.series(r.Method, code).observe(time.Since(epoch) - start)
	})
}

// epoch is what instrument measures time from: time.Since(epoch) reads
// the monotonic clock alone, where time.Now reads the wall clock too.
// Clock reads cost about 40ns each on a VM, and a request takes two.
var epoch = time.Now()

// serveCounted serves r with h and returns the status code h answered
// with: 0 if it wrote nothing, which series counts as 200.
func serveCounted(h http.Handler, w http.ResponseWriter, r *http.Request) int {
	sw := statusWriters.Get().(*statusWriter)
	sw.ResponseWriter, sw.code = w, 0
	h.ServeHTTP(sw, r)
	code := sw.code
	sw.ResponseWriter = nil
	statusWriters.Put(sw)
	return code
}

// series returns the series for a request with method that was answered
// with code.
func (m *metrics) series(method string, code int) *series {
	mi := methodIndex(method)
	if code == 0 {
		code = http.StatusOK // the handler wrote nothing
	}
	for ci, c := range routedCodes {
		if c == code {
			return &m.routed[mi][ci]
		}
	}
	return m.otherSeries(mi, code)
}

// otherSeries returns the series for a code the routes do not answer
// with, making it on first use.
func (m *metrics) otherSeries(mi, code int) *series {
	if code < 100 || code > 599 {
		code = 0 // "unknown"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	key := mi<<10 | code
	s := m.other[key]
	if s == nil {
		label := "unknown"
		if code != 0 {
			label = strconv.Itoa(code)
		}
		s = &series{labels: [2]string{label, methods[mi]}}
		m.other[key] = s
	}
	return s
}

// methods are the values of the method label: promhttp's list of known
// methods, in lower case, and "unknown" for any other method.
var methods = [...]string{"get", "head", "post", "put", "delete", "connect", "options", "notify", "trace", "patch", "unknown"}

// methodIndex returns the index in methods of the label for method. Like
// promhttp, it takes a known method in upper or lower case.
func methodIndex(method string) int {
	switch method {
	case "GET", "get":
		return 0
	case "HEAD", "head":
		return 1
	case "POST", "post":
		return 2
	case "PUT", "put":
		return 3
	case "DELETE", "delete":
		return 4
	case "CONNECT", "connect":
		return 5
	case "OPTIONS", "options":
		return 6
	case "NOTIFY", "notify":
		return 7
	case "TRACE", "trace":
		return 8
	case "PATCH", "patch":
		return 9
	}
	return len(methods) - 1
}

// Describe and Collect make metrics a prometheus.Collector of the two
// request families; the registry checks what Collect sends against
// Describe.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.requests
	ch <- m.duration
}

// Collect sends the counter and the histogram of every series that has
// been used.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for mi := range m.routed {
		for ci := range m.routed[mi] {
			m.routed[mi][ci].collect(ch, m.requests, m.duration)
		}
	}
	for _, s := range m.others() {
		s.collect(ch, m.requests, m.duration)
	}
}

// others returns the series of other, for Collect to read without
// holding m.mu.
func (m *metrics) others() []*series {
	m.mu.Lock()
	defer m.mu.Unlock()
	list := make([]*series, 0, len(m.other))
	for _, s := range m.other {
		list = append(list, s)
	}
	return list
}

// statusWriter records the status code of the response it wraps.
type statusWriter struct {
	http.ResponseWriter
	code int // 0 until the header is written
}

var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 { // 1xx responses are not final
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the wrapped ResponseWriter.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
