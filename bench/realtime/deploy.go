package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// deployment is one of e2e/testdata/realtime's apps on 4 ports under
// hellomgr, through the python/hellomgr_tornado package, behind an nginx
// that runs exactly what `hellomgr nginx` prints.
type deployment struct {
	dir, bin string
	ports    []int
	ngx      *benchkit.NginxServer
}

// deploy starts app (echo.py, chat.py) in a folder of its own under work.
func deploy(ctx context.Context, root, work, bin, app string) (*deployment, error) {
	dir, err := os.MkdirTemp(work, "d")
	if err != nil {
		return nil, err
	}
	ports, err := benchkit.FreePorts(5)
	if err != nil {
		return nil, err
	}
	d := &deployment{dir: dir, bin: bin, ports: ports[:4]}
	src := filepath.Join(root, "e2e", "testdata", "realtime", app)
	config := fmt.Sprintf(`ports: [%s]
command: [/usr/bin/python3, %q, "--port={port}", "--loop=asyncio"]
env:
  PYTHONPATH: %q
reload:
  handoff: socket
ready:
  notify: true
  timeout: 30s
stop:
  timeout: 10s
  spread: 2s
logs:
  dir: logs
metrics:
  address: 127.0.0.1:0
`, joinPorts(d.ports), src, benchkit.TornadoPackage(root))
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(config), 0o644); err != nil {
		return nil, err
	}
	if _, err := d.run(ctx, "up", "-d"); err != nil {
		return nil, err
	}
	printed, err := d.run(ctx, "nginx")
	if err != nil {
		return nil, err
	}
	httpPart, location, _ := strings.Cut(printed, "# In a server { } block:\n")
	prefix := filepath.Join(dir, "nginx")
	if err := os.Mkdir(prefix, 0o755); err != nil {
		return nil, err
	}
	d.ngx = benchkit.NewNginx(prefix, ports[4])
	return d, d.ngx.StartConf(nginxConf(prefix, httpPart, d.ngx.Port, location))
}

func (d *deployment) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, d.bin, append(args, "-c", filepath.Join(d.dir, "config.yaml"))...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("hellomgr %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// reload reloads and returns how long `hellomgr reload` took, and the
// sum of the times its new instances took to be ready (from its
// progress lines): the rest is the wait for the last old one's drain.
func (d *deployment) reload(ctx context.Context) (took, ready time.Duration, err error) {
	began := time.Now()
	out, err := d.run(ctx, "reload")
	took = time.Since(began)
	for _, m := range readyIn.FindAllStringSubmatch(out, -1) {
		if t, err := time.ParseDuration(m[1]); err == nil {
			ready += t
		}
	}
	return took, ready, err
}

var readyIn = regexp.MustCompile(`ready in ([0-9.]+[mµn]?s)`)

// stop ends the deployment: hellomgr down (which stops every instance),
// then nginx.
func (d *deployment) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d.run(ctx, "down")
	if d.ngx != nil {
		d.ngx.Stop()
	}
}

func (d *deployment) url(scheme, path string) string {
	return fmt.Sprintf("%s://127.0.0.1:%d%s", scheme, d.ngx.Port, path)
}

// nginxConf is a whole nginx.conf under prefix with the printed http part
// and location, and room for every connection of the bench.
func nginxConf(prefix, httpPart string, port int, location string) string {
	return fmt.Sprintf(`worker_processes 2;
worker_rlimit_nofile 16384;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 8192; }
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
%[4]s
    }
}
`, prefix, httpPart, port, location)
}

func joinPorts(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}
