package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// deployment is a manager with 4 built-in instances, and nginx in front
// with what `hellomgr nginx` prints.
type deployment struct {
	bin, dir, config string
	ports            []int  // the instances'
	metrics          string // the manager's metrics address
	httpPart         string // what hellomgr nginx printed for the http block
	location         string // and for the server block
	manager          benchkit.Process
	nginx            *benchkit.NginxServer
}

// start builds hellomgr, starts it on 4 free ports and nginx in front.
func start(ctx context.Context, dir string) (*deployment, error) {
	root, err := benchkit.ModuleRoot()
	if err != nil {
		return nil, err
	}
	d := &deployment{dir: dir, config: filepath.Join(dir, "config.yaml")}
	if d.bin, err = benchkit.Build(ctx, root, dir); err != nil {
		return nil, err
	}
	ports, err := benchkit.FreePorts(6)
	if err != nil {
		return nil, err
	}
	d.ports = ports[:4]
	d.metrics = "127.0.0.1:" + strconv.Itoa(ports[4])
	cfg := fmt.Sprintf("ports: [%d, %d, %d, %d]\nmetrics:\n  address: %s\n", ports[0], ports[1], ports[2], ports[3], d.metrics)
	if err := os.WriteFile(d.config, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if out, err := d.hellomgr(ctx, "up", "-d"); err != nil {
		return nil, fmt.Errorf("hellomgr up -d: %w\n%s", err, out)
	}
	if d.manager, err = benchkit.FindFile(filepath.Join(dir, ".hellomgr", "hellomgr.pid")); err != nil {
		return nil, err
	}
	printed, err := d.hellomgr(ctx, "nginx")
	if err != nil {
		return nil, fmt.Errorf("hellomgr nginx: %w\n%s", err, printed)
	}
	httpPart, location, ok := strings.Cut(printed, "# In a server { } block:\n")
	if !ok {
		return nil, fmt.Errorf("hellomgr nginx printed no server block part:\n%s", printed)
	}
	prefix := filepath.Join(dir, "nginx")
	if err := os.Mkdir(prefix, 0o755); err != nil {
		return nil, err
	}
	d.httpPart, d.location = httpPart, location
	d.nginx = benchkit.NewNginx(prefix, ports[5])
	return d, d.nginx.StartConf(d.nginxConf(false))
}

// logging rewrites nginx's config with or without the access_log line
// hellomgr printed, and reloads nginx.
func (d *deployment) logging(ctx context.Context, on bool) error {
	if err := os.WriteFile(d.nginx.Conf, []byte(d.nginxConf(on)), 0o644); err != nil {
		return err
	}
	return d.nginx.Reload(ctx)
}

// nginxConf is a whole nginx config around what hellomgr printed, with
// nginx's own request count at /nginx_status; without the access_log
// line unless logged.
func (d *deployment) nginxConf(logged bool) string {
	location := d.location
	if !logged {
		var kept []string
		for line := range strings.Lines(location) {
			if !strings.Contains(line, "access_log syslog:") {
				kept = append(kept, line)
			}
		}
		location = strings.Join(kept, "")
	}
	return fmt.Sprintf(`worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[2]s
    server {
        listen 127.0.0.1:%[3]d;
        location = /nginx_status { stub_status; }
%[4]s
    }
}
`, d.nginx.Prefix, d.httpPart, d.nginx.Port, location)
}

func (d *deployment) hellomgr(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, d.bin, append(args, "-c", d.config)...).CombinedOutput()
	return string(out), err
}

// stop stops nginx, then the manager and its instances (down, then by pid).
func (d *deployment) stop() {
	if d.nginx != nil {
		d.nginx.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d.hellomgr(ctx, "down")
	if d.manager.PID > 0 {
		d.manager.Stop(syscall.SIGTERM, 15*time.Second)
	}
}

// nginxRequests is nginx's count of requests served, from stub_status
// (which counts its own request too).
func (d *deployment) nginxRequests() (int64, error) {
	body, err := get(fmt.Sprintf("http://127.0.0.1:%d/nginx_status", d.nginx.Port))
	if err != nil {
		return 0, err
	}
	// Active connections: N \n server accepts handled requests \n A H R \n ...
	lines := strings.Split(body, "\n")
	if len(lines) < 3 {
		return 0, fmt.Errorf("stub_status: %q", body)
	}
	f := strings.Fields(lines[2])
	if len(f) != 3 {
		return 0, fmt.Errorf("stub_status: %q", body)
	}
	return strconv.ParseInt(f[2], 10, 64)
}

// logCounts reads the manager's request log series from /metrics.
func (d *deployment) logCounts() (map[string]float64, error) {
	body, err := get("http://" + d.metrics + "/metrics")
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && strings.HasPrefix(name, "hellomgr_request_log_") {
			v, _ := strconv.ParseFloat(value, 64)
			out[name] = v
		}
	}
	return out, nil
}

func get(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
