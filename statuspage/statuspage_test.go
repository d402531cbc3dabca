package statuspage

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/control"
)

// fakeSource is a manager's report and rollout counts, set by the test.
type fakeSource struct {
	report control.Report
	counts Rollouts
}

func (f *fakeSource) Report() control.Report  { return f.report }
func (f *fakeSource) RolloutCounts() Rollouts { return f.counts }

func newServer(t *testing.T, src Source) *httptest.Server {
	mux := http.NewServeMux()
	Mount(mux, src)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestPageCarriesTheFirstStatusAndItsFiles(t *testing.T) {
	src := &fakeSource{report: control.Report{PID: 7, Instances: []control.InstanceStatus{
		{Port: 8001, PID: 100, State: "ready", LastError: "secret </script> output"},
	}}}
	srv := newServer(t, src)
	resp, body := get(t, srv.URL+"/")
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("GET /: Content-Type %q", ct)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("GET /: Content-Security-Policy %q, want default-src 'self'", csp)
	}
	start := bytes.Index(body, []byte(`<script type="application/json" id="initial">`))
	end := bytes.Index(body, []byte("</script>\n<footer"))
	if start < 0 || end < start {
		t.Fatalf("GET /: no initial status block in\n%s", body)
	}
	var v view
	if err := json.Unmarshal(body[start+len(`<script type="application/json" id="initial">`):end], &v); err != nil {
		t.Fatalf("initial status: %v", err)
	}
	if len(v.Ports) != 1 || v.Ports[0].Port != 8001 || v.Ports[0].PID != 100 || v.Manager.PID != 7 {
		t.Errorf("initial status %+v", v)
	}
	if bytes.Contains(body, []byte("secret")) {
		t.Error("GET / shows an instance's last error, which can quote its output")
	}
	for path, want := range map[string]string{"/statuspage/page.js": "text/javascript", "/statuspage/page.css": "text/css"} {
		resp, body := get(t, srv.URL+path)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), want) || len(body) == 0 {
			t.Errorf("GET %s: %s %q, %d bytes", path, resp.Status, resp.Header.Get("Content-Type"), len(body))
		}
	}
	for _, path := range []string{"/statuspage/index.html", "/statuspage/../statuspage.go", "/nothing"} {
		if resp, _ := get(t, srv.URL+path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", path, resp.Status)
		}
	}
}

func TestStatusJSONIsAWhitelist(t *testing.T) {
	src := &fakeSource{report: control.Report{PID: 7, Config: "/etc/x.yaml", Instances: []control.InstanceStatus{
		{Port: 8001, PID: 100, State: "ready", Uptime: 3, Restarts: 2, RSS: 1 << 20, CPU: 1.5, LastError: "boom", Reloads: 1},
	}}}
	_, body := get(t, newServer(t, src).URL+"/status.json")
	var raw struct {
		Ports []map[string]any `json:"ports"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"port": true, "pid": true, "state": true, "uptime_seconds": true, "restarts": true,
		"reloads": true, "rss_bytes": true, "cpu_seconds": true}
	for key := range raw.Ports[0] {
		if !want[key] {
			t.Errorf("/status.json shows %q: not in the whitelist", key)
		}
	}
	if bytes.Contains(body, []byte("boom")) || bytes.Contains(body, []byte("/etc/x.yaml")) {
		t.Errorf("/status.json shows the last error or the config path: %s", body)
	}
}

func TestNoRouteTakesAnAction(t *testing.T) {
	srv := newServer(t, &fakeSource{})
	for _, path := range []string{"/", "/status.json", "/statuspage/page.js"} {
		for _, method := range []string{"POST", "PUT", "DELETE"} {
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader("x"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %s, want 405", method, path, resp.Status)
			}
		}
	}
}

func rows(reloads map[int]uint64, states map[int]string) []control.InstanceStatus {
	var out []control.InstanceStatus
	for _, port := range []int{8001, 8002, 8003} {
		if _, ok := reloads[port]; ok {
			out = append(out, control.InstanceStatus{Port: port, PID: port, State: states[port], Reloads: reloads[port]})
		}
	}
	return out
}

func steps(v *rolloutView) map[int]string {
	m := map[int]string{}
	for _, s := range v.Steps {
		m[s.Port] = s.Step
	}
	return m
}

func TestRolloutStepsReadOffThePorts(t *testing.T) {
	tr := newTracker()
	now := time.Now()
	ready := map[int]string{8001: "ready", 8002: "ready", 8003: "ready"}
	if v := tr.observe(now, rows(map[int]uint64{8001: 0, 8002: 0, 8003: 0}, ready), Rollouts{}); v.Current != nil || v.Last != nil {
		t.Fatalf("no rollout yet, got %+v", v)
	}
	// Rollout 1: 8001 replaced, 8002 starting its new process, 8003 waits.
	v := tr.observe(now, rows(map[int]uint64{8001: 1, 8002: 0, 8003: 0}, map[int]string{8001: "ready", 8002: "starting", 8003: "ready"}),
		Rollouts{Started: 1})
	if v.Current == nil || v.Current.Number != 1 || v.Current.Replaced != 1 {
		t.Fatalf("rollout 1 in progress: %+v", v.Current)
	}
	if got := steps(v.Current); got[8001] != "replaced" || got[8002] != "replacing" || got[8003] != "waiting" {
		t.Errorf("steps %v", got)
	}
	// It fails on 8002: 8003 was never reached.
	v = tr.observe(now, rows(map[int]uint64{8001: 1, 8002: 0, 8003: 0}, ready), Rollouts{Started: 1, Failed: 1, LastDuration: 1500 * time.Millisecond})
	if v.Current != nil || v.Last == nil || v.Last.Result != "failed" || v.Last.DurationMS != 1500 {
		t.Fatalf("rollout 1 ended: current %+v, last %+v", v.Current, v.Last)
	}
	if got := steps(v.Last); got[8001] != "replaced" || got[8002] != "unchanged" || got[8003] != "unchanged" {
		t.Errorf("steps once ended %v", got)
	}
	// Rollout 2 begins and ends between two polls, adding no port but
	// replacing all three: it shows as the last one, succeeded.
	v = tr.observe(now, rows(map[int]uint64{8001: 2, 8002: 1, 8003: 1}, ready), Rollouts{Started: 2, Failed: 1, Succeeded: 1})
	if v.Current != nil || v.Last == nil || v.Last.Number != 2 || v.Last.Result != "succeeded" || v.Last.Replaced != 3 {
		t.Fatalf("rollout 2: current %+v, last %+v", v.Current, v.Last)
	}
}

func TestRolloutSeenFirstMidwayHasNoHistory(t *testing.T) {
	tr := newTracker()
	v := tr.observe(time.Now(), rows(map[int]uint64{8001: 3, 8002: 2}, map[int]string{8001: "ready", 8002: "starting"}), Rollouts{Started: 4, Succeeded: 3})
	if v.Current == nil {
		t.Fatal("a rollout in progress at the first poll is not shown")
	}
	if got := steps(v.Current); got[8001] != "waiting" || got[8002] != "replacing" {
		t.Errorf("steps %v", got)
	}
}
