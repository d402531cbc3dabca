package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
	"github.com/hellomgr/hellomgr/control"
)

// deployment is 4 built-in instances under a manager started with up -d.
type deployment struct {
	bin, dir    string
	ports       []int
	client      *control.Client
	managerPID  int
	metricsAddr string
}

func deploy(ctx context.Context, bin, dir string) (*deployment, error) {
	ports, err := benchkit.FreePorts(4)
	if err != nil {
		return nil, err
	}
	d := &deployment{bin: bin, dir: dir, ports: ports}
	var list []string
	for _, p := range ports {
		list = append(list, strconv.Itoa(p))
	}
	// The shipped defaults: the built-in server, socket handoff, READY=1.
	config := fmt.Sprintf("ports: [%s]\nmetrics:\n  address: 127.0.0.1:0\n", strings.Join(list, ", "))
	if err := os.WriteFile(d.config(), []byte(config), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, bin, "up", "-d", "-c", d.config()).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("hellomgr up: %w\n%s", err, out)
	}
	d.client = control.Dial(filepath.Join(dir, ".hellomgr", "hellomgr.sock"))
	r, err := d.client.Status(ctx)
	if err != nil {
		d.close()
		return nil, err
	}
	d.managerPID, d.metricsAddr = r.PID, r.MetricsAddr
	return d, nil
}

func (d *deployment) config() string { return filepath.Join(d.dir, "config.yaml") }

// close stops the manager: `down`, then by pid if that failed. Its
// instances die with it.
func (d *deployment) close() {
	exec.Command(d.bin, "down", "-c", d.config()).Run()
	if p, ok := benchkit.Find(d.managerPID); ok && p.Alive() {
		p.Stop(syscall.SIGTERM, 10*time.Second)
	}
}

// stats are the manager's own figures, from its /metrics.
type stats struct {
	goroutines, fds, rss float64
}

func (d *deployment) managerStats(ctx context.Context) (stats, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.metricsAddr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return stats{}, fmt.Errorf("manager metrics: %w", err)
	}
	defer resp.Body.Close()
	var s stats
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(value, 64)
		switch name {
		case "go_goroutines":
			s.goroutines = v
		case "process_open_fds":
			s.fds = v
		case "process_resident_memory_bytes":
			s.rss = v
		}
	}
	return s, sc.Err()
}
