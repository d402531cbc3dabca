package reqlog

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func add(t *testing.T, c *Counts, dgram []byte) {
	t.Helper()
	var req Request
	if err := Parse(dgram, &req); err != nil {
		t.Fatal(err)
	}
	c.Add(&req)
}

// Each attempt counts on its own port: a retry is a 502 on the first
// and the answer on the next; a canary's requests count apart.
func TestCountsPerPortAndGeneration(t *testing.T) {
	c := NewCounts()
	add(t, c, line("1", "1", "127.0.0.1:8001", "200", "0.004", "GET"))
	add(t, c, line("1", "2", "127.0.0.1:8001, 127.0.0.1:8002", "502, 404", "0.000, 0.012", "get"))
	c.SetGeneration(8002, Canary)
	add(t, c, line("2", "1", "127.0.0.1:8002", "500", "0.300", "POST"))
	add(t, c, line("2", "2", "-", "-", "-", "GET"))

	want := `
# HELP hellomgr_http_requests_total Attempts nginx passed to this instance, by the instance's status (502/504: no answer; none: the client left first), method and generation (current; old or canary during a canary watch).
# TYPE hellomgr_http_requests_total counter
hellomgr_http_requests_total{code="404",generation="current",method="get"} 1
hellomgr_http_requests_total{code="500",generation="canary",method="post"} 1
`
	if err := testutil.CollectAndCompare(c.PortCollector(8002), strings.NewReader(want), "hellomgr_http_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c.PortCollector(8002), "hellomgr_http_request_duration_seconds"); n != 2 {
		t.Errorf("port 8002: %d histograms, want one per generation (2)", n)
	}
	t1, t2 := c.Tally(8001), c.Tally(8002)
	if t1.Requests != 2 || t1.Errors != 1 || t2.Requests != 2 || t2.Errors != 1 {
		t.Errorf("tallies: 8001 %+v, 8002 %+v; want 2 requests and 1 error each", t1, t2)
	}
	if s := c.Stats(); s.Counted != 3 || s.NotProxied != 1 || s.Lost != 0 {
		t.Errorf("stats %+v, want 3 counted, 1 not proxied, 0 lost", s)
	}
}

// A request missing from a connection's sequence is counted lost.
func TestCountsLost(t *testing.T) {
	c := NewCounts()
	for _, rank := range []string{"1", "2", "5", "6"} {
		add(t, c, line("3", rank, "127.0.0.1:8001", "200", "0.001", "GET"))
	}
	add(t, c, line("4", "3", "127.0.0.1:8001", "200", "0.001", "GET")) // its first seen: not judged
	if s := c.Stats(); s.Lost != 2 {
		t.Errorf("lost %d, want 2 (ranks 3 and 4 of connection 3)", s.Lost)
	}
	c.Unparsable()
	want := `
# HELP hellomgr_request_log_lost_total Requests nginx numbered on a connection whose log line never came (a full socket queue, or a location without the access_log line).
# TYPE hellomgr_request_log_lost_total counter
hellomgr_request_log_lost_total 2
`
	if err := testutil.CollectAndCompare(c.LogCollector(), strings.NewReader(want), "hellomgr_request_log_lost_total"); err != nil {
		t.Error(err)
	}
	if s := c.Stats(); s.Unparsable != 1 {
		t.Errorf("unparsable %d, want 1", s.Unparsable)
	}
}

// Quantile agrees with histogram_quantile on a known spread.
func TestTallyQuantile(t *testing.T) {
	c := NewCounts()
	for i := range 100 {
		secs := "0.004"
		if i >= 90 {
			secs = "0.400"
		}
		add(t, c, line("5", "1", "127.0.0.1:8001", "200", secs, "GET"))
	}
	tl := c.Tally(8001)
	if q := tl.Quantile(0.5); q <= 0.0025 || q > 0.005 {
		t.Errorf("p50 %.4f, want in (0.0025, 0.005]", q)
	}
	if q := tl.Quantile(0.95); q <= 0.25 || q > 0.5 {
		t.Errorf("p95 %.4f, want in (0.25, 0.5]", q)
	}
}
