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
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight atomic.Int64 // requests being handled, for http_requests_in_flight
	cache    sync.Map     // methodIndex<<10 | status code -> *series
}

func newMetrics(version string) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests answered, by status code and method.",
		}, []string{"code", "method"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds",
			Help: "Time from the start of the handler to its end, by status code and method.",
			// 100µs to about 3.3s, doubling: a hello answer takes well
			// under a millisecond, so the low buckets matter most.
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"code", "method"}),
	}
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "http_requests_in_flight",
		Help: "HTTP requests being handled now.",
	}, func() float64 { return float64(m.inFlight.Load()) })
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hello_info",
		Help: "Always 1; labels give the version and the start time (RFC 3339) of this server.",
		ConstLabels: prometheus.Labels{
			"version":    version,
			"start_time": time.Now().UTC().Format(time.RFC3339),
		},
	})
	info.Set(1)
	m.reg.MustRegister(
		m.requests, m.duration, inFlight, info,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	return m
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
// serveCounted), a request takes one cached series lookup and two reads
// of the monotonic clock, and the in-flight count is one atomic add each
// way.
//
// If route panics, the request is not counted, as with promhttp.
func (m *metrics) instrument(route func(http.ResponseWriter, *http.Request) int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.inFlight.Add(1)
		defer m.inFlight.Add(-1)
		start := time.Since(epoch)
		code := route(w, r)
		s := m.series(r.Method, code)
		s.requests.Inc()
		s.duration.Observe((time.Since(epoch) - start).Seconds())
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

// series holds the counter and the histogram of one (code, method) pair.
type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// series returns the series for a request with method that was answered
// with code, creating it on first use.
func (m *metrics) series(method string, code int) *series {
	mi := methodIndex(method)
	if code == 0 {
		code = http.StatusOK // the handler wrote nothing
	}
	if code < 100 || code > 599 {
		code = 0 // "unknown"
	}
	key := mi<<10 | code
	if s, ok := m.cache.Load(key); ok {
		return s.(*series)
	}
	codeLabel := "unknown"
	if code != 0 {
		codeLabel = strconv.Itoa(code)
	}
	l := prometheus.Labels{"code": codeLabel, "method": methods[mi]}
	s, _ := m.cache.LoadOrStore(key, &series{m.requests.With(l), m.duration.With(l)})
	return s.(*series)
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
