package hello

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

func TestMetricsOff(t *testing.T) {
	in := start(t, Options{})
	if code, body := get(t, newClient(t), in.url+"/metrics"); code != 404 {
		t.Errorf("GET /metrics with Metrics off: got %d %q, want 404", code, body)
	}
}

func TestMetrics(t *testing.T) {
	in := start(t, Options{Metrics: true, Version: "v1.2.3"})
	c := newClient(t)
	const gets, posts, missing = 7, 3, 2
	for range gets {
		get(t, c, in.url+"/")
	}
	for range posts {
		resp, err := c.Post(in.url+"/", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for range missing {
		get(t, c, in.url+"/nope/with/a/long/path")
	}
	req, _ := http.NewRequest("BREW", in.url+"/", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	code, text := get(t, c, in.url+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: got %d, want 200", code)
	}
	// The scrape is counted once it is over, so it is not in its own
	// counts, but it is in flight.
	for _, want := range []string{
		fmt.Sprintf(`http_requests_total{code="200",method="get"} %d`, gets),
		fmt.Sprintf(`http_requests_total{code="405",method="post"} %d`, posts),
		fmt.Sprintf(`http_requests_total{code="404",method="get"} %d`, missing),
		`http_requests_total{code="405",method="unknown"} 1`,
		fmt.Sprintf(`http_request_duration_seconds_count{code="200",method="get"} %d`, gets),
		`http_request_duration_seconds_bucket{code="200",method="get",le="0.0001"} `,
		`http_requests_in_flight 1`,
		`process_cpu_seconds_total `,
		`process_open_fds `,
		`go_goroutines `,
		`go_gc_duration_seconds`,
	} {
		if !strings.Contains(text, "\n"+want) {
			t.Errorf("GET /metrics: no line starting with %q", want)
		}
	}
	info := regexp.MustCompile(`\nhello_info\{start_time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",version="v1\.2\.3"\} 1\n`)
	if !info.MatchString(text) {
		t.Errorf("GET /metrics: no hello_info line matching %s", info)
	}
	if strings.Contains(text, "nope") {
		t.Errorf("GET /metrics: a request path shows up in the metrics")
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}

// TestHandlersShareNothing checks that two servers in one process keep
// separate counts, as two generations in a handoff do.
func TestHandlersShareNothing(t *testing.T) {
	a := start(t, Options{Metrics: true})
	b := start(t, Options{Metrics: true})
	c := newClient(t)
	get(t, c, a.url+"/")
	get(t, c, a.url+"/")
	_, text := get(t, newClient(t), b.url+"/metrics")
	if strings.Contains(text, `http_requests_total{code="200",method="get"}`) {
		t.Errorf("second server counts the first one's requests:\n%s", text)
	}
}

// TestLabelsMatchPromhttp checks that instrument labels requests exactly
// as promhttp's middleware does, for known and unknown methods and codes.
func TestLabelsMatchPromhttp(t *testing.T) {
	answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch code := r.URL.Query().Get("code"); code {
		case "none": // write nothing at all
		case "body": // write a body without a header
			w.Write([]byte("x"))
		default:
			n, _ := strconv.Atoi(code)
			w.WriteHeader(n)
		}
	})
	ours, theirs := newMetrics(""), newPromhttpMetrics()
	inFlight := prometheus.NewGauge(prometheus.GaugeOpts{Name: "http_requests_in_flight"})
	handlers := []http.Handler{
		ours.instrument(func(w http.ResponseWriter, r *http.Request) int { return serveCounted(answer, w, r) }),
		promhttp.InstrumentHandlerInFlight(inFlight,
			promhttp.InstrumentHandlerDuration(theirs.duration,
				promhttp.InstrumentHandlerCounter(theirs.requests, answer))),
	}
	methods := []string{"GET", "get", "Get", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "NOTIFY", "BREW", "PROPFIND"}
	codes := []string{"none", "body", "200", "204", "301", "404", "405", "418", "431", "500", "503", "599", "600", "999"}
	for _, m := range methods {
		for _, c := range codes {
			for _, h := range handlers {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(m, "/?code="+c, nil))
			}
		}
	}
	for _, name := range []string{"http_requests_total", "http_request_duration_seconds"} {
		got, want := seriesCounts(t, ours.reg, name), seriesCounts(t, theirs.reg, name)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: got series\n%v\nwant, as promhttp:\n%v", name, got, want)
		}
	}
}

// promhttpMetrics are the request metrics as client_golang's own
// CounterVec and HistogramVec keep them, with the names, help and buckets
// the server exposes: what its own series must match.
type promhttpMetrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newPromhttpMetrics() promhttpMetrics {
	m := promhttpMetrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests answered, by status code and method.",
		}, []string{"code", "method"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time from the start of the handler to its end, by status code and method.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"code", "method"}),
	}
	m.reg.MustRegister(m.requests, m.duration)
	return m
}

// TestSeriesMatchPrometheus checks that a series puts each duration in
// the bucket a HistogramVec with the same buckets puts it in, bounds
// included, and exposes the same families: help, type, labels, bounds,
// counts and sum.
func TestSeriesMatchPrometheus(t *testing.T) {
	ours, theirs := newMetrics(""), newPromhttpMetrics()
	var durations []time.Duration
	for i := range numBounds + 2 {
		bound := firstBound << i
		durations = append(durations, bound-1, bound, bound+1)
	}
	durations = append(durations, 0, time.Nanosecond, 37*time.Microsecond, time.Hour)
	for _, code := range []int{200, 404, 503} {
		for _, d := range durations {
			ours.series("GET", code).observe(d)
			theirs.duration.WithLabelValues(strconv.Itoa(code), "get").Observe(d.Seconds())
			theirs.requests.WithLabelValues(strconv.Itoa(code), "get").Inc()
		}
	}
	for _, name := range []string{"http_requests_total", "http_request_duration_seconds"} {
		got, want := family(t, ours.reg, name), family(t, theirs.reg, name)
		if got != want {
			t.Errorf("%s: got\n%s\nwant, as client_golang:\n%s", name, got, want)
		}
	}
}

// family returns the family name of reg in the text format, with each
// histogram sum rounded to the nanosecond and no created timestamps.
func family(t *testing.T, reg *prometheus.Registry, name string) string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if c := m.GetCounter(); c != nil {
				c.CreatedTimestamp = nil
			}
			if h := m.GetHistogram(); h != nil {
				h.CreatedTimestamp = nil
				h.SampleSum = proto.Float64(math.Round(h.GetSampleSum()*1e9) / 1e9)
			}
		}
		var b strings.Builder
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	t.Fatalf("no family %s", name)
	return ""
}

// seriesCounts returns the count of each series of the counter or
// histogram name in reg, by labels.
func seriesCounts(t *testing.T, reg *prometheus.Registry, name string) map[string]uint64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := strings.Join(labels, ",")
			if h := m.GetHistogram(); h != nil {
				counts[key] = h.GetSampleCount()
			} else {
				counts[key] = uint64(m.GetCounter().GetValue())
			}
		}
	}
	if len(counts) == 0 {
		t.Fatalf("no series of %s", name)
	}
	return counts
}
