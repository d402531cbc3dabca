package metrics

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"
)

// metricsHandler serves /metrics: the manager's Go runtime, its manager
// series and its process, in that order (by family name, as promhttp
// orders managerRegistry's, which the tests check).
//
// It writes the text exposition by hand into a pooled buffer, from a
// pooled reading of the runtime, and counts the instances through
// CountSource when the Source offers it, so that a scrape allocates next
// to nothing: through managerRegistry,
// a scrape with 256 instances allocated about 125 KB (protobuf messages,
// maps, a goroutine and a channel), and the garbage collections that
// caused, each scanning the stacks of hundreds of goroutines, were most
// of its CPU. It serves no gzip: the body is about 10 KB.
type metricsHandler struct {
	src  Source
	read readFunc
}

// A scrape is what one /metrics request writes with.
type scrape struct {
	e      exposition
	rt     *runtimeReading
	counts StateCounts
}

var scrapes = sync.Pool{New: func() any {
	return &scrape{e: exposition{b: make([]byte, 0, 16<<10)}, rt: newRuntimeReading()}
}}

// textContentTypes is the Content-Type header's value, shared by every
// answer: nothing changes it in place.
var textContentTypes = []string{textContentType}

func (h metricsHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s := scrapes.Get().(*scrape)
	defer scrapes.Put(s)
	s.e.b = s.e.b[:0]
	s.counts.reset()
	s.rt.read()
	writeGoRuntime(&s.e, s.rt)
	writeManager(&s.e, &s.counts, countStates(h.src, &s.counts))
	writeRequestLog(&s.e, h.src) // nginx's request log: requests.go
	if err := writeSelf(&s.e, h.read); err != nil {
		slog.Error(err.Error(), "component", "metrics")
	}
	hd := w.Header()
	hd["Content-Type"] = textContentTypes
	hd["Content-Length"] = []string{strconv.Itoa(len(s.e.b))}
	w.Write(s.e.b)
}
