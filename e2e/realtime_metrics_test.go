package e2e

import (
	"net/http"
	"testing"
	"time"
)

// A Tornado app using the integration serves the built-in server's
// request series on its own /metrics, from Tornado's log_function: the
// hellomgr_app job of deploy/prometheus.yml is up for every instance, and
// the counts of what went through nginx add up, by code and method.
func TestRealtimeTornadoMetricsInPrometheus(t *testing.T) {
	a := startRealtime(t, "chat.py", "ioloop", "")
	prom := startPrometheus(t, deployPrometheusYAML(t, a.dir))
	prom.waitTargets(t, wantTargets(a.managerAddr(), a.ports))
	prom.waitQuery(t, "every Tornado instance's own /metrics up", `up{job="hellomgr_app"}`, valuesByPort(a.ports, 1))
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 60 {
		method, path, want := "GET", "/", 200
		switch {
		case i%6 == 4:
			path, want = "/missing", 404
		case i%6 == 5:
			method, want = "POST", 405
		}
		sendOne(t, client, method, a.url("http", path), want)
	}
	sum := func(code, method string) string {
		return `sum(http_requests_total{job="hellomgr_app",code="` + code + `",method="` + method + `"})`
	}
	prom.waitQuery(t, "404s counted", sum("404", "get"), map[string]float64{"": 10})
	prom.waitQuery(t, "405s counted", sum("405", "post"), map[string]float64{"": 10})
	prom.waitQuery(t, "404s timed", `sum(http_request_duration_seconds_count{job="hellomgr_app",code="404",method="get"})`, map[string]float64{"": 10})
	prom.waitQuery(t, "the histogram's +Inf bucket", `sum(http_request_duration_seconds_bucket{job="hellomgr_app",code="405",method="post",le="+Inf"})`, map[string]float64{"": 10})
	for _, gauge := range []string{"http_requests_in_flight", "http_websockets_open"} {
		if got, err := prom.byInstance(gauge + `{job="hellomgr_app"}`); err != nil || len(got) != len(a.ports) {
			t.Errorf("%s: %v (%v), want a series for each of the %d ports", gauge, got, err, len(a.ports))
		}
	}
}
