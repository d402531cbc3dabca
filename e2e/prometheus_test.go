package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// backoff is how long a killed instance stays down before its restart: the
// time the test has to see it reported down.
const backoff = 5 * time.Second

// promConfig is a deployment of the built-in server on ports, with the
// manager's metrics on a port picked at start, as by default.
func promConfig(ports []int) string {
	return fmt.Sprintf(`ports: %s
ready:
  timeout: 10s
  interval: 20ms
restart:
  backoff: %s
metrics:
  address: 127.0.0.1:0
`, portsYAML(ports), backoff)
}

// TestPrometheus runs deploy/prometheus.yml in a real Prometheus against a
// real deployment of the built-in server, and follows it through a known
// load, a killed instance and a reload that replaces two ports, removes one
// and adds one. On the way, promtool checks every endpoint Prometheus
// scrapes, and the manager's /probe is asked for bad ports.
func TestPrometheus(t *testing.T) {
	d := newDeployment(t)
	all := testnet.FreePorts(t, 4)
	ports := all[:3]
	d.write("config.yaml", promConfig(ports))
	d.mustRun("up", "-d")
	manager := d.managerAddr()
	prom := startPrometheus(t, deployPrometheusYAML(t, d.dir))
	prom.waitTargets(t, wantTargets(manager, ports))
	prom.waitQuery(t, "every instance up", `hellomgr_instance_up{job="hellomgr_probe"}`, valuesByPort(ports, 1))

	checkCounters(t, prom, ports)
	checkEndpoints(t, manager, ports)
	checkBadProbes(t, manager, ports, all[3])
	checkKilled(t, d, prom, manager, ports)

	// Reload: ports[0] and ports[1] are replaced, ports[2] removed, all[3] added.
	next := []int{ports[0], ports[1], all[3]}
	d.write("config.yaml", promConfig(next))
	reloaded := time.Now()
	d.mustRun("reload")
	prom.waitTargets(t, wantTargets(manager, next))
	if got, want := d.mustRun("targets"), readFile(filepath.Join(d.dir, "prometheus-targets.json")); got != want {
		t.Errorf("after the reload, `hellomgr targets` printed:\n%s\nbut the targets file holds:\n%s", got, want)
	}
	prom.waitStartTimes(t, next, reloaded)
}

// managerAddr is the manager's metrics address, from `hellomgr targets`,
// which must print what the manager wrote to the targets file.
func (d *deployment) managerAddr() string {
	d.t.Helper()
	out := d.mustRun("targets")
	if file := readFile(filepath.Join(d.dir, "prometheus-targets.json")); out != file {
		d.t.Errorf("`hellomgr targets` printed:\n%s\nbut the targets file holds:\n%s", out, file)
	}
	var groups []struct {
		Targets []string
		Labels  map[string]string
	}
	if err := json.Unmarshal([]byte(out), &groups); err != nil {
		d.t.Fatalf("hellomgr targets: %v\n%s", err, out)
	}
	for _, g := range groups {
		if g.Labels["port"] == "" && len(g.Targets) == 1 {
			return g.Targets[0]
		}
	}
	d.t.Fatalf("hellomgr targets: no group for the manager:\n%s", out)
	return ""
}

func instanceOf(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// wantTargets are the targets of deploy/prometheus.yml for a manager on
// addr running ports, as "job instance scrape-url".
func wantTargets(manager string, ports []int) []string {
	want := []string{"hellomgr " + manager + " http://" + manager + "/metrics"}
	for _, p := range ports {
		want = append(want,
			fmt.Sprintf("hellomgr_app %s http://%[2]s/metrics", instanceOf(p), instanceOf(p)),
			fmt.Sprintf("hellomgr_probe %s http://%s/probe?port=%d", instanceOf(p), manager, p))
	}
	return want
}

func valuesByPort(ports []int, v float64) map[string]float64 {
	m := map[string]float64{}
	for _, p := range ports {
		m[instanceOf(p)] = v
	}
	return m
}

// checkCounters sends each port its own number of HEAD and POST requests
// and waits until Prometheus has the same counts. Neither method is used by
// the readiness probe or by the scrapes (both GET), so the counts are
// exact.
func checkCounters(t *testing.T, prom *promServer, ports []int) {
	t.Helper()
	heads, posts := map[string]float64{}, map[string]float64{}
	client := &http.Client{Timeout: 5 * time.Second}
	for i, p := range ports {
		url := "http://" + instanceOf(p) + "/"
		heads[instanceOf(p)] = float64(10 * (i + 1))
		posts[instanceOf(p)] = float64(3 * (i + 1))
		for range 10 * (i + 1) {
			sendOne(t, client, http.MethodHead, url, http.StatusOK)
		}
		for range 3 * (i + 1) {
			sendOne(t, client, http.MethodPost, url, http.StatusMethodNotAllowed)
		}
	}
	prom.waitQuery(t, "HEAD / answered 200", `http_requests_total{job="hellomgr_app",method="head",code="200"}`, heads)
	prom.waitQuery(t, "POST / answered 405", `http_requests_total{job="hellomgr_app",method="post",code="405"}`, posts)
}

func sendOne(t *testing.T, client *http.Client, method, url string, want int) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(""))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: got status %d, want %d", method, url, resp.StatusCode, want)
	}
}

// checkEndpoints runs promtool check metrics on every endpoint Prometheus
// scrapes: the manager's /metrics, and each port's /metrics and /probe.
func checkEndpoints(t *testing.T, manager string, ports []int) {
	t.Helper()
	need(t, "/usr/bin/promtool", "prometheus")
	urls := []string{"http://" + manager + "/metrics"}
	for _, p := range ports {
		urls = append(urls, "http://"+instanceOf(p)+"/metrics", fmt.Sprintf("http://%s/probe?port=%d", manager, p))
	}
	for _, url := range urls {
		code, body := fetch(t, url)
		if code != http.StatusOK {
			t.Errorf("GET %s: got status %d, want 200; body:\n%s", url, code, body)
			continue
		}
		cmd := exec.Command("/usr/bin/promtool", "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GET %s: promtool check metrics: %v\n%s", url, err, out)
		}
	}
}

// checkBadProbes asks the running manager's /probe with bad port
// parameters: each gets a 400 with a one-line reason.
func checkBadProbes(t *testing.T, manager string, ports []int, unused int) {
	t.Helper()
	p := strconv.Itoa(ports[0])
	for _, tc := range []struct{ query, reason string }{
		{"", "missing port parameter"},
		{"?port=", `port "" is not a number from 1 to 65535`},
		{"?port=abc", `port "abc" is not a number from 1 to 65535`},
		{"?port=0", "port 0 is not a number from 1 to 65535"},
		{"?port=-1", "port -1 is not a number from 1 to 65535"},
		{"?port=65536", "port 65536 is not a number from 1 to 65535"},
		{"?port=99999999999999999999", "is not a number from 1 to 65535"},
		{"?port=%2B" + p, `port "+` + p + `" is not a number`},
		{"?port=0" + p, `port "0` + p + `" is not a number`},
		{"?port=" + p + "&port=" + p, "port parameter given 2 times, want once"},
		{"?port=" + p + "%zz", "malformed query"},
		{"?port=" + strconv.Itoa(unused), "port " + strconv.Itoa(unused) + " is not configured"},
	} {
		url := "http://" + manager + "/probe" + tc.query
		code, body := fetch(t, url)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.reason) {
			t.Errorf("GET %s: got %d %q, want 400 with %q", url, code, body, tc.reason)
		}
		if strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n") {
			t.Errorf("GET %s: reason %q is not one line", url, body)
		}
	}
}

// checkKilled kills one instance's process: while it waits out its
// backoff, its probe is still scraped and says it is down, and once it is
// back, it has one more restart than before and the others none.
func checkKilled(t *testing.T, d *deployment, prom *promServer, manager string, ports []int) {
	t.Helper()
	restarts := `sum by (instance) (hellomgr_instance_restarts_total{job="hellomgr_probe"})
		or on (instance) 0 * hellomgr_instance_up{job="hellomgr_probe"}`
	before := valuesByPort(ports, 0)
	prom.waitQuery(t, "no restarts yet", restarts, before)
	victim := ports[0]
	pid := d.pids()[victim]
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill pid %d: %v", pid, err)
	}

	probe := fmt.Sprintf("http://%s/probe?port=%d", manager, victim)
	var body string
	testnet.WaitFor(t, "the probe to report the killed instance down", 2*backoff, func() bool {
		var code int
		code, body = fetch(t, probe)
		if code != http.StatusOK {
			t.Fatalf("GET %s with pid %d gone: got status %d, want 200; body:\n%s", probe, pid, code, body)
		}
		return strings.Contains(body, "\nhellomgr_instance_up 0\n")
	})
	// The manager may not have seen the exit yet (state ready, the pid
	// still in its snapshot) or may have (state backoff, no pid): either
	// way the process is gone, and so are its series.
	if strings.Contains(body, "process_cpu_seconds_total") {
		t.Errorf("GET %s with pid %d gone: want no process series; got:\n%s", probe, pid, body)
	}
	// The probe target stays up in Prometheus: the scrape succeeds, and
	// says the instance is down.
	prom.waitQuery(t, "a successful probe scrape saw the instance down",
		fmt.Sprintf(`min_over_time(hellomgr_instance_up{job="hellomgr_probe",instance=%q}[5m])
			and on (instance) min_over_time(up{job="hellomgr_probe",instance=%[1]q}[5m]) == 1`, instanceOf(victim)),
		map[string]float64{instanceOf(victim): 0})

	after := valuesByPort(ports, 0)
	after[instanceOf(victim)] = before[instanceOf(victim)] + 1
	prom.waitQuery(t, "one more restart for the killed instance", restarts, after)
	prom.waitQuery(t, "every instance up again", `hellomgr_instance_up{job="hellomgr_probe"}`, valuesByPort(ports, 1))
}

// waitStartTimes waits until each port has one hello_info series (the
// app's own) whose start_time is at or after since, and a probe whose
// hellomgr_instance_start_time_seconds is too.
func (p *promServer) waitStartTimes(t *testing.T, ports []int, since time.Time) {
	t.Helper()
	var problems []string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		problems = p.startTimeProblems(ports, since)
		if len(problems) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("after 30s, start times not all after the reload at %s:\n%s", since.UTC().Format(time.RFC3339Nano), strings.Join(problems, "\n"))
}

func (p *promServer) startTimeProblems(ports []int, since time.Time) []string {
	info, err := p.query(`hello_info{job="hellomgr_app"}`)
	if err != nil {
		return []string{err.Error()}
	}
	starts, err := p.byInstance(`hellomgr_instance_start_time_seconds{job="hellomgr_probe"}`)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	if len(info) != len(ports) || len(starts) != len(ports) {
		problems = append(problems, fmt.Sprintf("%d hello_info and %d start time series, want %d of each", len(info), len(starts), len(ports)))
	}
	for _, s := range info {
		at, err := time.Parse(time.RFC3339, s.Metric["start_time"])
		if err != nil || at.Before(since.Truncate(time.Second)) {
			problems = append(problems, fmt.Sprintf("%s: hello_info start_time %q", s.Metric["instance"], s.Metric["start_time"]))
		}
	}
	for inst, sec := range starts {
		if sec < float64(since.UnixNano())/1e9 {
			problems = append(problems, fmt.Sprintf("%s: hellomgr_instance_start_time_seconds %f", inst, sec))
		}
	}
	return problems
}

// fetch GETs url and returns the status and body.
func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, b.String()
}

// TestDeployConfig checks deploy/prometheus.yml with promtool, as shipped
// and as the test runs it.
func TestDeployConfig(t *testing.T) {
	need(t, "/usr/bin/promtool", "prometheus")
	if out, err := exec.Command("/usr/bin/promtool", "check", "config", "../deploy/prometheus.yml").CombinedOutput(); err != nil {
		t.Errorf("promtool check config deploy/prometheus.yml: %v\n%s", err, out)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(file, []byte(deployPrometheusYAML(t, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/usr/bin/promtool", "check", "config", file).CombinedOutput(); err != nil {
		t.Errorf("promtool check config (as the test runs it): %v\n%s", err, out)
	}
}
