package metrics

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// RequestSource is a Source that also counts the requests nginx passed to
// each instance (the manager's request log, reqlog): /probe?port=N then
// carries hellomgr_http_requests_total and
// hellomgr_http_request_duration_seconds of that port, and /metrics what
// became of nginx's datagrams. Safe for concurrent use, as Snapshot is.
type RequestSource interface {
	Source
	// RequestCollector collects port's request series; nil when the
	// manager counts no requests.
	RequestCollector(port int) prometheus.Collector
	// RequestLogCollector collects the request log's own series; nil
	// when there is no request log.
	RequestLogCollector() prometheus.Collector
}

// writeRequests appends port's request series, when src counts requests.
func writeRequests(e *exposition, src Source, port int) {
	if rs, ok := src.(RequestSource); ok {
		writeCollected(e, rs.RequestCollector(port))
	}
}

// writeRequestLog appends the request log's own series, when src has one.
func writeRequestLog(e *exposition, src Source) {
	if rs, ok := src.(RequestSource); ok {
		writeCollected(e, rs.RequestLogCollector())
	}
}

// writeCollected gathers c in a registry of its own, made for this
// scrape as blackbox_exporter does for a probe, and appends its text
// exposition. Unlike the hand-written series, these have label values
// from the traffic (codes, methods) and a histogram per generation:
// client_golang's checks (no duplicate, valid names) are worth their cost
// here, about 20 µs a scrape.
func writeCollected(e *exposition, c prometheus.Collector) {
	if c == nil {
		return
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		slog.Error("request metrics: "+err.Error(), "component", "metrics")
		return
	}
	mfs, err := reg.Gather()
	if err != nil {
		slog.Error("request metrics: "+err.Error(), "component", "metrics")
	}
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(appender{e}, mf); err != nil {
			slog.Error("request metrics: "+err.Error(), "component", "metrics")
		}
	}
}

// appender writes to an exposition's buffer.
type appender struct{ e *exposition }

func (a appender) Write(p []byte) (int, error) {
	a.e.b = append(a.e.b, p...)
	return len(p), nil
}
