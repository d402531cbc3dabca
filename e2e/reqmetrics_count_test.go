package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The seed's Tornado app, unmodified, on 4 ports behind exactly what
// `hellomgr nginx` prints: after 400 GET / (200), 100 GET of a missing
// path (404) and 100 POST (the seed answers 200; 100 DELETE then get
// Tornado's 405), the four ports' hellomgr_http_requests_total on
// /probe?port=N add up to exactly those counts, and every port has the
// duration histogram. No datagram is lost or unparsable.
func TestRequestMetricsTornadoSeed(t *testing.T) {
	needTornado(t)
	d := newDeployment(t)
	ports := sortedFreePorts(t, 4)
	d.write("seed.py", readTornadoExample(t, "seed.py"))
	d.write("config.yaml", fmt.Sprintf("ports: %s\ncommand: [/usr/bin/python3, seed.py, \"--port={port}\"]\nmetrics:\n  address: 127.0.0.1:0\n", portsYAML(ports)))
	checkRequestCounts(t, d, ports, map[string]float64{
		"200 get": 400, "404 get": 100, "200 post": 100, "405 delete": 100,
	})
}

// The same with the built-in server, which answers POST with 405.
func TestRequestMetricsBuiltIn(t *testing.T) {
	d := newDeployment(t)
	ports := sortedFreePorts(t, 4)
	d.write("config.yaml", fmt.Sprintf("ports: %s\nmetrics:\n  address: 127.0.0.1:0\n", portsYAML(ports)))
	checkRequestCounts(t, d, ports, map[string]float64{
		"200 get": 400, "404 get": 100, "405 post": 100, "405 delete": 100,
	})
}

// checkRequestCounts starts d behind the printed nginx, sends the
// requests, and compares the four ports' counts, added up, with want
// ("code method": count).
func checkRequestCounts(t *testing.T, d *deployment, ports []int, want map[string]float64) {
	t.Helper()
	systemdQueue(t)
	d.mustRun("up", "-d")
	httpPart, location := d.printedNginx()
	ngx := startNginx(t, httpPart, location)
	base := fmt.Sprintf("http://127.0.0.1:%d", ngx.Port)
	client := &http.Client{Timeout: 10 * time.Second}
	seen := map[string]float64{} // what the client got, "code method"
	for _, r := range []struct {
		method, path string
		n            int
	}{{"GET", "/", 400}, {"GET", "/missing", 100}, {"POST", "/", 100}, {"DELETE", "/", 100}} {
		for range r.n {
			res := send(client, r.method, base+r.path)
			if res.err != nil {
				t.Fatalf("%s %s: %v", r.method, r.path, res.err)
			}
			seen[fmt.Sprintf("%d %s", res.status, strings.ToLower(r.method))]++
		}
	}
	manager := d.managerAddr()
	var got map[string]float64
	var histograms map[int]uint64
	total := 0.0
	for _, v := range want {
		total += v
	}
	for deadline := time.Now().Add(30 * time.Second); sum(got) < total; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			_, body := fetch(t, "http://"+manager+"/metrics")
			t.Fatalf("after 30s, hellomgr_http_requests_total of the 4 ports: %v, want %v; nginx's error log:\n%s\nthe manager's /metrics:\n%s",
				got, seen, readFile(filepath.Join(ngx.Prefix, "error.log")), body)
		}
		got, histograms = requestCountsOf(t, manager, ports)
	}
	time.Sleep(500 * time.Millisecond) // nothing more may come
	got, histograms = requestCountsOf(t, manager, ports)
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("the client got %v through nginx, want %v", seen, want)
	}
	if fmt.Sprint(got) != fmt.Sprint(seen) {
		t.Errorf("hellomgr_http_requests_total of the 4 ports, added up: %v, want what the client got, %v", got, seen)
	}
	var timed uint64
	for _, p := range ports {
		if histograms[p] == 0 {
			t.Errorf("port %d: no hellomgr_http_request_duration_seconds observation", p)
		}
		timed += histograms[p]
	}
	if float64(timed) != total {
		t.Errorf("hellomgr_http_request_duration_seconds_count, added up: %d, want %.0f", timed, total)
	}
	_, body := fetch(t, "http://"+manager+"/metrics")
	for _, line := range []string{`hellomgr_request_log_datagrams_total{result="unparsable"} 0`, `hellomgr_request_log_lost_total 0`,
		fmt.Sprintf(`hellomgr_request_log_datagrams_total{result="counted"} %.0f`, total)} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("/metrics has no line %q", line)
		}
	}
}

// requestCountsOf reads /probe?port=N of each port: the requests by "code
// method", added up over ports and generations, and each port's count of
// timed requests.
func requestCountsOf(t *testing.T, manager string, ports []int) (map[string]float64, map[int]uint64) {
	t.Helper()
	counts, timed := map[string]float64{}, map[int]uint64{}
	for _, p := range ports {
		mfs := probeFamilies(t, manager, p)
		for _, m := range mfs["hellomgr_http_requests_total"].GetMetric() {
			counts[label(m, "code")+" "+label(m, "method")] += m.GetCounter().GetValue()
		}
		for _, m := range mfs["hellomgr_http_request_duration_seconds"].GetMetric() {
			timed[p] += m.GetHistogram().GetSampleCount()
		}
	}
	return counts, timed
}

func probeFamilies(t *testing.T, manager string, port int) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := fetch(t, fmt.Sprintf("http://%s/probe?port=%d", manager, port))
	if code != http.StatusOK {
		t.Fatalf("/probe?port=%d: %d %s", port, code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/probe?port=%d: %v\n%s", port, err, body)
	}
	return mfs
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func sum(m map[string]float64) float64 {
	s := 0.0
	for _, v := range m {
		s += v
	}
	return s
}

// systemdQueue sets net.unix.max_dgram_qlen to 512, systemd's value at
// boot, for the test, if it is lower (the kernel's default is 10), and
// puts it back after. Read when a socket is made: the manager's, started
// after. With 10, a manager held off the CPU for a few milliseconds on a
// loaded machine loses nginx's lines (counted, hellomgr_request_log_lost_total;
// docs/metrics.md), and the exact counts this test wants are short.
func systemdQueue(t *testing.T) {
	t.Helper()
	const file = "/proc/sys/net/unix/max_dgram_qlen"
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.TrimSpace(string(b))
	if n, _ := strconv.Atoi(old); n >= 512 {
		return
	}
	if err := os.WriteFile(file, []byte("512"), 0o644); err != nil {
		t.Fatalf("set net.unix.max_dgram_qlen to 512 as systemd does (needs root): %v", err)
	}
	t.Cleanup(func() { os.WriteFile(file, []byte(old), 0o644) })
}
