package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
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
)

// writeSD writes the targets file for a manager at managerAddr and
// instances on ports, and deploy/prometheus.yml, the config hellomgr
// ships, reading it and scraping every second. It returns the config's
// path.
func writeSD(t *testing.T, managerAddr string, ports []int) (config string) {
	t.Helper()
	groups, err := Targets(managerAddr, "", ports)
	if err != nil {
		t.Fatal(err)
	}
	targets, err := MarshalTargets(groups)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../deploy/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "prometheus-targets.json")
	yaml := string(src)
	for old, repl := range map[string]string{
		"/srv/hellomgr/prometheus-targets.json": file,
		"scrape_interval: 15s":                  "scrape_interval: 1s",
	} {
		if !strings.Contains(yaml, old) {
			t.Fatalf("deploy/prometheus.yml no longer has %q, which the test rewrites", old)
		}
		yaml = strings.ReplaceAll(yaml, old, repl)
	}
	config = filepath.Join(dir, "prometheus.yml")
	for path, data := range map[string][]byte{file: targets, config: []byte(yaml)} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return config
}

func TestScrapeConfig(t *testing.T) {
	config := writeSD(t, "127.0.0.1:9100", []int{8001, 8002})
	out, err := exec.Command(lookPromtool(t), "check", "config", config).CombinedOutput()
	if err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
}

// TestPrometheus runs a real Prometheus on deploy/prometheus.yml, a
// manager and two apps, and checks that it scrapes each app both directly
// and through /probe, under the same instance label.
func TestPrometheus(t *testing.T) {
	prometheus := lookPrometheus(t)
	var ports []int
	var instances []Instance
	for range 2 {
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, "app_requests_total 7")
		}))
		t.Cleanup(app.Close)
		port := app.Listener.Addr().(*net.TCPAddr).Port
		ports = append(ports, port)
		instances = append(instances, Instance{Port: port, PID: os.Getpid(), State: "ready", Command: "builtin"})
	}
	manager := httptest.NewServer(Handler(fakeSource{Snapshot{Instances: instances}}))
	t.Cleanup(manager.Close)
	managerAddr := manager.Listener.Addr().String()

	api := startPrometheus(t, prometheus, writeSD(t, managerAddr, ports))
	want := []string{"hellomgr " + managerAddr + " http://" + managerAddr + "/metrics"}
	for _, p := range ports {
		addr := "127.0.0.1:" + strconv.Itoa(p)
		want = append(want,
			"hellomgr_app "+addr+" http://"+addr+"/metrics",
			"hellomgr_probe "+addr+" http://"+managerAddr+"/probe?port="+strconv.Itoa(p))
	}
	slices.Sort(want)
	got := waitTargets(t, api, len(want))
	if !slices.Equal(got, want) {
		t.Errorf("targets (job instance url):\ngot  %q\nwant %q", got, want)
	}
}

// startPrometheus starts Prometheus on config and returns the address of
// its API. It stops it when the test ends.
func startPrometheus(t *testing.T, prometheus, config string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var log bytes.Buffer
	cmd := exec.CommandContext(t.Context(), prometheus, "--config.file="+config,
		"--storage.tsdb.path="+t.TempDir(), "--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	return addr
}

// waitTargets waits until Prometheus has scraped n targets successfully,
// and returns them as "job instance scrape-url", sorted.
func waitTargets(t *testing.T, api string, n int) []string {
	t.Helper()
	var last []string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		var resp struct {
			Data struct {
				ActiveTargets []struct {
					Labels    map[string]string
					ScrapeURL string
					Health    string
					LastError string
				}
			}
		}
		if err := getJSON("http://"+api+"/api/v1/targets", &resp); err != nil {
			continue // not listening yet
		}
		last = last[:0]
		up := 0
		for _, tg := range resp.Data.ActiveTargets {
			u, _ := url.PathUnescape(tg.ScrapeURL)
			last = append(last, tg.Labels["job"]+" "+tg.Labels["instance"]+" "+u)
			if tg.Health == "up" {
				up++
			} else if tg.LastError != "" {
				t.Logf("%s: %s", u, tg.LastError)
			}
		}
		if up == n && len(last) == n {
			slices.Sort(last)
			return last
		}
	}
	t.Fatalf("after 30s, Prometheus has not scraped %d targets; it has %q", n, last)
	return nil
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func lookPrometheus(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"prometheus", "/usr/bin/prometheus"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatal("prometheus not found: run apt-get install -y prometheus")
	return ""
}
