package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// checkTools names the Debian package of the first tool the apps need
// that is missing.
func checkTools(apps []string) error {
	tools := []benchkit.Tool{benchkit.Nginx, benchkit.Wrk}
	for _, a := range apps {
		if a == "tornado" {
			tools = append(tools, benchkit.Tornado)
		}
	}
	return benchkit.Check(tools...)
}

// deployment is one app's folder: config.yaml, its instances under a
// manager started by `hellomgr up -d`, and the nginx in front of them.
type deployment struct {
	bin, dir string
	ports    []int
	ngx      *benchkit.NginxServer
}

func newDeployment(bin string) (*deployment, error) {
	dir, err := os.MkdirTemp("", "hmb") // short: the control socket lives here
	if err != nil {
		return nil, err
	}
	ports, err := benchkit.FreePorts(5)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	prefix := filepath.Join(dir, "nginx")
	if err := os.Mkdir(prefix, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &deployment{bin: bin, dir: dir, ports: ports[:4], ngx: benchkit.NewNginx(prefix, ports[4])}, nil
}

func (d *deployment) path(name string) string { return filepath.Join(d.dir, name) }

func (d *deployment) write(name, text string) error {
	return os.WriteFile(d.path(name), []byte(text), 0o644)
}

// hellomgr runs a hellomgr command on the deployment's config.
func (d *deployment) hellomgr(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, d.bin, append(args, "-c", d.path("config.yaml"))...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("hellomgr %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// close stops the instances and the manager (`down`, else SIGKILL to the
// manager by pid: its instances die with it), then nginx, and removes the
// folder.
func (d *deployment) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.hellomgr(ctx, "down"); err != nil {
		if p, err := benchkit.FindFile(d.path(".hellomgr/hellomgr.pid")); err == nil {
			p.Stop(syscall.SIGKILL, 0)
		}
	}
	d.ngx.Stop()
	os.RemoveAll(d.dir)
}
