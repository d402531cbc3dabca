package reqlog

import (
	"maps"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// The series Counts gives, through client_golang: per port on the
// manager's /probe?port=N, and for the log itself on /metrics.
var (
	requestsDesc = prometheus.NewDesc("hellomgr_http_requests_total",
		"Attempts nginx passed to this instance, by the instance's status (502/504: no answer; none: the client left first), method and generation (current; old or canary during a canary watch).",
		[]string{"code", "generation", "method"}, nil)
	durationDesc = prometheus.NewDesc("hellomgr_http_request_duration_seconds",
		"The instance's response time to nginx ($upstream_response_time), by generation.",
		[]string{"generation"}, nil)
	datagramsDesc = prometheus.NewDesc("hellomgr_request_log_datagrams_total",
		"Datagrams nginx sent to the request log socket, by what became of them (counted, not_proxied, unparsable).",
		[]string{"result"}, nil)
	lostDesc = prometheus.NewDesc("hellomgr_request_log_lost_total",
		"Requests nginx numbered on a connection whose log line never came (a full socket queue, or a location without the access_log line).",
		nil, nil)
	noServerDesc = prometheus.NewDesc("hellomgr_request_log_no_server_total",
		"Attempts nginx logged on no instance's port (no live upstream).", nil, nil)
)

// PortCollector collects port's request series.
func (c *Counts) PortCollector(p int) prometheus.Collector { return portCollector{c, p} }

// LogCollector collects what became of the datagrams.
func (c *Counts) LogCollector() prometheus.Collector { return logCollector{c} }

type portCollector struct {
	c *Counts
	p int
}

func (pc portCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- requestsDesc
	ch <- durationDesc
}

// Collect sends a copy of each generation's series, taken under the lock.
func (pc portCollector) Collect(ch chan<- prometheus.Metric) {
	type copied struct {
		gen   Generation
		codes map[codeKey]uint64
		t     Tally
	}
	var all []copied
	pc.c.mu.Lock()
	if p := pc.c.ports[pc.p]; p != nil {
		for g, s := range p.series {
			if s != nil {
				all = append(all, copied{Generation(g), maps.Clone(s.codes), s.t})
			}
		}
	}
	pc.c.mu.Unlock()
	for _, s := range all {
		gen := s.gen.String()
		for _, k := range slices.SortedFunc(maps.Keys(s.codes), byCode) {
			ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(s.codes[k]),
				codeLabel(k.code), gen, Methods[k.method])
		}
		buckets := make(map[float64]uint64, len(Bounds))
		var n uint64
		for i, b := range Bounds {
			n += s.t.Buckets[i]
			buckets[b] = n
		}
		ch <- prometheus.MustNewConstHistogram(durationDesc, s.t.Timed, s.t.Seconds, buckets, gen)
	}
}

// codeLabel is the code label of a status: "none" for an attempt that
// got none because the client went away first.
func codeLabel(code uint16) string {
	if code == 0 {
		return "none"
	}
	return strconv.Itoa(int(code))
}

func byCode(a, b codeKey) int {
	return int(a.code)<<8 + int(a.method) - (int(b.code)<<8 + int(b.method))
}

type logCollector struct{ c *Counts }

func (lc logCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- datagramsDesc
	ch <- lostDesc
	ch <- noServerDesc
}

func (lc logCollector) Collect(ch chan<- prometheus.Metric) {
	s := lc.c.Stats()
	for _, r := range []struct {
		result string
		n      uint64
	}{{"counted", s.Counted}, {"not_proxied", s.NotProxied}, {"unparsable", s.Unparsable}} {
		ch <- prometheus.MustNewConstMetric(datagramsDesc, prometheus.CounterValue, float64(r.n), r.result)
	}
	ch <- prometheus.MustNewConstMetric(lostDesc, prometheus.CounterValue, float64(s.Lost))
	ch <- prometheus.MustNewConstMetric(noServerDesc, prometheus.CounterValue, float64(s.NoServer))
}
