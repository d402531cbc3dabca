package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hellomgr/hellomgr/proc"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler returns the handler of hellomgr's metrics server:
//
//   - GET /metrics: the manager's own Go runtime and process, and its
//     manager-level series (hellomgr_instances, hellomgr_rollouts_*);
//   - GET /probe?port=N: the series of the instance on port N and of its
//     process, each scrape built in a fresh registry from a fresh snapshot.
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
	mux.Handle("GET /metrics", promhttp.HandlerFor(managerRegistry(src, read), handlerOpts))
	mux.Handle("GET /probe", probeHandler{src: src, read: read})
	return mux
}

// managerRegistry holds what /metrics serves. It is a registry of its own,
// not the default one, so that nothing another package registers by
// accident shows up in it.
func managerRegistry(src Source, read readFunc) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		selfCollector{read: read},
		managerCollector{src: src},
	)
	return reg
}

// probeRegistry holds what one /probe scrape serves.
func probeRegistry(inst Instance, read readFunc) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(instanceCollector{inst: inst, read: read})
	return reg
}

// handlerOpts serve /metrics uncompressed: gzip took more than half the
// CPU of a scrape for a body of about 10 KB, which a loopback or a LAN
// carries in no time.
var handlerOpts = promhttp.HandlerOpts{
	ErrorLog:           slogLogger{},
	ErrorHandling:      promhttp.ContinueOnError,
	DisableCompression: true,
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

// slogLogger passes promhttp's errors to slog's default logger, looked up
// at each call so that a logger set after Handler is used.
type slogLogger struct{}

func (slogLogger) Println(v ...any) {
	slog.Error(strings.TrimSuffix(fmt.Sprintln(v...), "\n"), "component", "metrics")
}
