package hello

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics holds one server's collectors in a registry of its own, so that
// two servers in one process (tests, a handoff) never mix their counts.
//
// Label cardinality is bounded: requests are labelled by status code and
// method only, never by path, and promhttp folds every method outside its
// fixed set (get, head, post, put, ...) into "unknown".
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
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
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight",
			Help: "HTTP requests being handled now.",
		}),
	}
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
		m.requests, m.duration, m.inFlight, info,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	return m
}

// handler serves the registry in the Prometheus exposition formats.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// instrument wraps next so that every request is counted, timed and
// tracked while in flight.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return promhttp.InstrumentHandlerInFlight(m.inFlight,
		promhttp.InstrumentHandlerDuration(m.duration,
			promhttp.InstrumentHandlerCounter(m.requests, next)))
}
