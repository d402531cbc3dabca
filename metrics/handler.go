package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/hellomgr/hellomgr/proc"
	"github.com/hellomgr/hellomgr/statuspage"
)

// Handler returns the handler of hellomgr's metrics server:
//
//   - GET /metrics: the manager's own Go runtime and process, and its
//     manager-level series (hellomgr_instances, hellomgr_rollouts_*);
//   - GET /probe?port=N: the series of the instance on port N and of its
//     process, each scrape from a fresh snapshot;
//   - GET /targets: the targets of both, for Prometheus' http_sd_configs
//     (targetsHandler);
//   - GET /: the live status page, when src is also a statuspage.Source
//     (the manager is).
//
// The first two write the Prometheus text format by hand, from pooled buffers: see
// metricsHandler and probeHandler.
//
// A /probe request without exactly one port, or with a port that is not a
// number from 1 to 65535 or not in the snapshot, is answered 400 with a
// one-line reason. An instance whose process has gone is still answered 200,
// with hellomgr_instance_up 0 and no process_* series.
//
// Errors collecting metrics (only reading a process that runs can fail) are
// logged with slog's default logger; the series that could be collected are
// served all the same.
//
// Processes are read through proc.ReadCached, so that /metrics, /probe
// and `hellomgr status` share one reading per process and per second.
func Handler(src Source) http.Handler {
	return newHandler(src, proc.ReadCached)
}

func newHandler(src Source, read readFunc) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler{src: src, read: read})
	mux.Handle("GET /probe", probeHandler{src: src, read: read})
	mux.Handle("GET /targets", targetsHandler{src: src}) // Prometheus http_sd: targets.go
	if page, ok := src.(statuspage.Source); ok {
		statuspage.Mount(mux, page) // GET /: the live status page (statuspage/)
	}
	return mux
}

// parsePort returns the one port parameter of a query. Its errors are one
// line: whatever the query holds is quoted.
func parsePort(rawQuery string) (int, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return 0, fmt.Errorf("malformed query: %w", err)
	}
	values := q["port"]
	switch len(values) {
	case 0:
		return 0, errors.New("missing port parameter: want /probe?port=N")
	case 1:
	default:
		return 0, fmt.Errorf("port parameter given %d times, want once", len(values))
	}
	s := values[0]
	port, err := strconv.Atoi(s)
	// Only the plain form: "+8001" or "08001" would be a second name for
	// the same target.
	if err != nil || strconv.Itoa(port) != s {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	if port < 1 || port > 65535 {
		return 0, fmt.Errorf("port %d is not a number from 1 to 65535", port)
	}
	return port, nil
}
