package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// promServer is a real Prometheus on a free loopback port, with its storage
// in a temporary folder, started by the test and stopped by pid when it
// ends.
type promServer struct {
	api string // http://127.0.0.1:PORT
}

// deployPrometheusYAML returns deploy/prometheus.yml as a test runs it:
// the targets file is the one in dir, and every interval is 1s.
func deployPrometheusYAML(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("../deploy/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	yaml := string(b)
	for old, new := range map[string]string{
		"/srv/hellomgr/prometheus-targets.json": filepath.Join(dir, "prometheus-targets.json"),
		"scrape_interval: 15s":                  "scrape_interval: 1s",
		"evaluation_interval: 15s":              "evaluation_interval: 1s",
	} {
		if !strings.Contains(yaml, old) {
			t.Fatalf("deploy/prometheus.yml no longer has %q, which the test rewrites", old)
		}
		yaml = strings.ReplaceAll(yaml, old, new)
	}
	return yaml
}

// startPrometheus runs Prometheus on the config text.
func startPrometheus(t *testing.T, config string) *promServer {
	t.Helper()
	need(t, "/usr/bin/prometheus", "prometheus")
	dir := t.TempDir()
	file := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(file, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(testnet.FreePorts(t, 1)[0])
	cmd := exec.Command("/usr/bin/prometheus", "--config.file="+file,
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	t.Cleanup(func() { // runs after the server has stopped
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	testnet.StartServer(t, cmd, syscall.SIGTERM)

	p := &promServer{api: "http://" + addr}
	testnet.WaitFor(t, "Prometheus to be ready", 30*time.Second, func() bool {
		resp, err := http.Get(p.api + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// target is one of Prometheus's active targets.
type target struct {
	Labels     map[string]string `json:"labels"`
	ScrapeURL  string            `json:"scrapeUrl"`
	Health     string            `json:"health"`
	LastError  string            `json:"lastError"`
	LastScrape time.Time         `json:"lastScrape"`
}

// String is "job instance scrape-url".
func (tg target) String() string {
	u, _ := url.PathUnescape(tg.ScrapeURL)
	return tg.Labels["job"] + " " + tg.Labels["instance"] + " " + u
}

func (p *promServer) targets() ([]target, error) {
	var resp struct {
		Data struct{ ActiveTargets []target }
	}
	err := p.get("/api/v1/targets?state=active", &resp)
	return resp.Data.ActiveTargets, err
}

// waitTargets waits until Prometheus's active targets are exactly want
// (as target.String gives them) and each has been scraped successfully.
func (p *promServer) waitTargets(t *testing.T, want []string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	var got, unhealthy []string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		all, err := p.targets()
		got, unhealthy = got[:0], unhealthy[:0]
		for _, tg := range all {
			got = append(got, tg.String())
			if tg.Health != "up" {
				unhealthy = append(unhealthy, fmt.Sprintf("%s: %s %s", tg, tg.Health, tg.LastError))
			}
		}
		slices.Sort(got)
		if err == nil && slices.Equal(got, want) && len(unhealthy) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("after 60s, Prometheus's targets (job instance url):\ngot  %q\nwant %q\nnot up: %q", got, want, unhealthy)
}

// sample is one series of an instant query's result.
type sample struct {
	Metric map[string]string
	Value  float64
}

// query runs an instant PromQL query.
func (p *promServer) query(q string) ([]sample, error) {
	var resp struct {
		Data struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := p.get("/api/v1/query?query="+url.QueryEscape(q), &resp); err != nil {
		return nil, err
	}
	if resp.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: result type %q, want vector", q, resp.Data.ResultType)
	}
	out := make([]sample, 0, len(resp.Data.Result))
	for _, r := range resp.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v: %w", q, r.Value[1], err)
		}
		out = append(out, sample{Metric: r.Metric, Value: v})
	}
	return out, nil
}

// byInstance runs a query and returns each series' value by its instance
// label; the query must give at most one series per instance.
func (p *promServer) byInstance(q string) (map[string]float64, error) {
	samples, err := p.query(q)
	if err != nil {
		return nil, err
	}
	m := make(map[string]float64, len(samples))
	for _, s := range samples {
		inst := s.Metric["instance"]
		if _, dup := m[inst]; dup {
			return nil, fmt.Errorf("query %s: two series for instance %s", q, inst)
		}
		m[inst] = s.Value
	}
	return m, nil
}

// waitQuery waits until the query's values by instance are exactly want,
// and fails the test with the last answer if they never are.
func (p *promServer) waitQuery(t *testing.T, what, q string, want map[string]float64) {
	t.Helper()
	var got map[string]float64
	var err error
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if got, err = p.byInstance(q); err == nil && equalValues(got, want) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: after 30s, %s\ngot  %v (error: %v)\nwant %v", what, q, got, err, want)
}

func equalValues(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func (p *promServer) get(path string, v any) error {
	resp, err := http.Get(p.api + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
