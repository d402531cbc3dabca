package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// scrapes is what the scrape latency measurement saw.
type scrapes struct {
	manager   string // the manager's metrics address
	instances int
	times     []time.Duration // one per scrape, sorted
	probeSize int             // bytes of one /probe answer
}

// scrapeLatency starts a manager with o.instances built-in instances,
// times o.scrapes scrapes of /probe?port=N round the ports, and stops it.
func scrapeLatency(ctx context.Context, bin, tmp string, o options) (scrapes, error) {
	dir, err := os.MkdirTemp(tmp, "d") // short: the control socket lives here
	if err != nil {
		return scrapes{}, err
	}
	ports, err := freePorts(o.instances)
	if err != nil {
		return scrapes{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(configYAML(ports)), 0o644); err != nil {
		return scrapes{}, err
	}
	fmt.Fprintf(os.Stderr, "bench/metrics: starting %d instances\n", o.instances)
	if out, err := hellomgr(ctx, bin, dir, "up", "-d"); err != nil {
		stopManager(bin, dir)
		return scrapes{}, fmt.Errorf("hellomgr up -d: %w\n%s", err, out)
	}
	defer stopManager(bin, dir)
	manager, err := managerAddr(filepath.Join(dir, "prometheus-targets.json"))
	if err != nil {
		return scrapes{}, err
	}
	s := scrapes{manager: manager, instances: o.instances}
	s.times, s.probeSize, err = timeScrapes(ctx, manager, ports, o.scrapes)
	return s, err
}

// configYAML is a config of the built-in server on ports, the manager's
// metrics on a port picked at start.
func configYAML(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return fmt.Sprintf("ports: [%s]\nmetrics:\n  address: 127.0.0.1:0\n", strings.Join(s, ", "))
}

func hellomgr(ctx context.Context, bin, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, append(args, "-c", filepath.Join(dir, "config.yaml"))...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// stopManager runs `hellomgr down`, and if that fails SIGKILLs the manager
// by the pid in its pid file: its instances die with it.
func stopManager(bin, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := hellomgr(ctx, bin, dir, "down"); err == nil {
		return
	}
	b, _ := os.ReadFile(filepath.Join(dir, ".hellomgr", "hellomgr.pid"))
	if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// managerAddr reads the manager's address from the targets file it keeps:
// the one group without a port label.
func managerAddr(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	var groups []struct {
		Targets []string
		Labels  map[string]string
	}
	if err := json.Unmarshal(b, &groups); err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	for _, g := range groups {
		if g.Labels["port"] == "" && len(g.Targets) == 1 {
			return g.Targets[0], nil
		}
	}
	return "", fmt.Errorf("%s: no group for the manager", file)
}

// timeScrapes scrapes /probe?port=N n times round the ports, one after the
// other on one keep-alive connection, and returns the times sorted. Each
// answer must be a 200 saying the instance is up.
func timeScrapes(ctx context.Context, manager string, ports []int, n int) ([]time.Duration, int, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	times := make([]time.Duration, 0, n)
	size := 0
	for i := range n {
		url := fmt.Sprintf("http://%s/probe?port=%d", manager, ports[i%len(ports)])
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, 0, err
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return nil, 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		times = append(times, time.Since(start))
		if err != nil || resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("\nhellomgr_instance_up 1\n")) {
			return nil, 0, fmt.Errorf("GET %s: %s (%v):\n%s", url, resp.Status, err, body)
		}
		size = len(body)
	}
	slices.Sort(times)
	return times, size, nil
}

// reportScrapes puts the scrape times and their target in r.
func reportScrapes(r *benchkit.Report, s scrapes, o options) {
	q := func(p float64) time.Duration {
		return round(s.times[min(len(s.times)-1, int(p*float64(len(s.times))))])
	}
	r.Tables = append(r.Tables, benchkit.Table{Columns: []string{"/probe?port=N scrapes", "instances", "answer", "min", "median", "p90", "p99", "max"},
		Rows: [][]string{{strconv.Itoa(len(s.times)), strconv.Itoa(s.instances), fmt.Sprintf("%d bytes", s.probeSize),
			round(s.times[0]).String(), q(0.5).String(), q(0.9).String(), q(0.99).String(), round(s.times[len(s.times)-1]).String()}}})
	r.Notes = append(r.Notes, fmt.Sprintf("Scrapes: `hellomgr up -d` with %d ports, no command (the built-in server) and metrics.address 127.0.0.1:0; "+
		"then GET http://%s/probe?port=N, %d times, one after the other round the ports, on one keep-alive connection (Go net/http client).",
		s.instances, s.manager, o.scrapes))
	r.Target(q(0.99) < 5*time.Millisecond, "/probe?port=N p99 %s with %d instances, target under 5 ms", q(0.99), s.instances)
}
