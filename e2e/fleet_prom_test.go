package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// fleetPrometheusYAML is deploy/prometheus.yml as its comment says to set
// it up for several machines: its file_sd_configs become http_sd_configs
// with one URL per machine's manager (GET /targets). Every interval is 1s,
// and the refresh of the discovery is refresh.
func fleetPrometheusYAML(t *testing.T, hosts []*fleetHost) string {
	t.Helper()
	b, err := os.ReadFile("../deploy/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var urls strings.Builder
	for _, h := range hosts {
		fmt.Fprintf(&urls, "      - url: http://%s:9100/targets\n        refresh_interval: %s\n", h.addr, refresh)
	}
	yaml := string(b)
	for old, new := range map[string]string{
		"    file_sd_configs: &targets\n      - files: [/srv/hellomgr/prometheus-targets.json]\n": "    http_sd_configs: &targets\n" + urls.String(),
		"file_sd_configs: *targets": "http_sd_configs: *targets",
		"scrape_interval: 15s":      "scrape_interval: 1s",
		"evaluation_interval: 15s":  "evaluation_interval: 1s",
	} {
		if !strings.Contains(yaml, old) {
			t.Fatalf("deploy/prometheus.yml no longer has %q, which the fleet test rewrites", old)
		}
		yaml = strings.ReplaceAll(yaml, old, new)
	}
	return yaml
}

// fleetProm is a Prometheus in the root namespace, on host1's root-side
// address.
type fleetProm struct{ *promServer }

func startFleetPrometheus(t *testing.T, dir string, hosts []*fleetHost) fleetProm {
	t.Helper()
	pdir := filepath.Join(dir, "prometheus")
	os.MkdirAll(pdir, 0o755)
	file := filepath.Join(pdir, "prometheus.yml")
	if err := os.WriteFile(file, []byte(fleetPrometheusYAML(t, hosts)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/usr/bin/promtool", "check", "config", file).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	addr := fmt.Sprintf("%s:%d", hosts[0].rootAddr, freePortOn(t, hosts[0].rootAddr))
	cmd := exec.Command("/usr/bin/prometheus", "--config.file="+file,
		"--storage.tsdb.path="+filepath.Join(pdir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	startServer(t, cmd, "Prometheus", addr)
	return fleetProm{&promServer{api: "http://" + addr}}
}

// waitFound waits until Prometheus' active targets are exactly want,
// whatever their health, and returns how long that took.
func (p fleetProm) waitFound(t *testing.T, want []string) time.Duration {
	t.Helper()
	start := time.Now()
	want = slices.Sorted(slices.Values(want))
	var got []string
	for time.Since(start) < 60*time.Second {
		all, err := p.targets()
		got = got[:0]
		for _, tg := range all {
			got = append(got, tg.String())
		}
		slices.Sort(got)
		if err == nil && slices.Equal(got, want) {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("after 60s, Prometheus's targets:\ngot  %q\nwant %q", got, want)
	return 0
}

// freePortOn returns a port free on addr, an address of this machine.
func freePortOn(t *testing.T, addr string) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startServer starts a server of the test's (nginx, Prometheus) and waits
// until it accepts connections on addr.
func startServer(t *testing.T, cmd *exec.Cmd, what, addr string) {
	t.Helper()
	testnet.StartServer(t, cmd, syscall.SIGTERM)
	testnet.WaitFor(t, what+" to listen on "+addr, 30*time.Second, func() bool {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	})
}

// discoveryWatch times, for each machine, when its manager first answers
// GET /targets (its `up`) and when Prometheus first lists every target of
// that machine.
type discoveryWatch struct {
	mu        sync.Mutex
	up, found map[string]time.Time
	stop      chan struct{}
	done      chan struct{}
}

// watchDiscovery starts watching; perHost is the number of targets each
// machine has in Prometheus.
func watchDiscovery(p fleetProm, hosts []*fleetHost, perHost int) *discoveryWatch {
	w := &discoveryWatch{up: map[string]time.Time{}, found: map[string]time.Time{}, stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: time.Second}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			all, _ := p.targets()
			now := time.Now()
			w.mu.Lock()
			for _, h := range hosts {
				if _, ok := w.up[h.addr]; !ok {
					if resp, err := client.Get("http://" + h.addr + ":9100/targets"); err == nil {
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							w.up[h.addr] = now
						}
					}
				}
				n := 0
				for _, tg := range all {
					if strings.HasPrefix(tg.Labels["instance"], h.addr+":") {
						n++
					}
				}
				if _, ok := w.found[h.addr]; !ok && n == perHost {
					w.found[h.addr] = now
				}
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// wait waits until Prometheus has found every machine and returns, by
// address, how long after its manager's up that was.
func (w *discoveryWatch) wait(t *testing.T, hosts []*fleetHost, limit time.Duration) map[string]time.Duration {
	t.Helper()
	defer func() { close(w.stop); <-w.done }()
	deadline := time.Now().Add(limit)
	for {
		w.mu.Lock()
		if len(w.found) == len(hosts) {
			delays := map[string]time.Duration{}
			for addr, at := range w.found {
				delays[addr] = at.Sub(w.up[addr])
			}
			w.mu.Unlock()
			return delays
		}
		w.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("after %s, Prometheus has found %d of %d machines", limit, len(w.found), len(hosts))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
