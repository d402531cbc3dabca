package main

import (
	"bytes"
	"context"
	"encoding/json"
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
func checkTools(apps []app) error {
	tools := []benchkit.Tool{benchkit.Nginx, benchkit.Wrk}
	for _, a := range apps {
		tools = append(tools, a.needs...)
	}
	return benchkit.Check(tools...)
}

// deployment is one app's folder behind one front: config.yaml and the
// app's code, its instances under a manager started by `hellomgr up -d`,
// and the nginx in front of them.
//
// Sessions, which the scheduler shares the CPU between (autogroup is on
// on this machine): the bench and the hellomgr commands it runs (up,
// reload, status, nginx) are in the session the bench was started from;
// `up -d` detaches the manager into a session of its own, and the
// instances are wherever hellomgr puts them (that is part of what is
// measured: in the manager's session or each in one of its own, see
// instance/process.go); nginx, its master and workers, is in another
// session (benchkit.StartChild), and wrk in another (benchkit.StartWrk).
// So the bench never shares a share with the app, nginx or the load, and
// these three never share one with each other, as systemd services
// would not.
type deployment struct {
	bin, dir string
	front    front
	ports    []int
	ngx      *benchkit.NginxServer
}

func newDeployment(bin string, f front) (*deployment, error) {
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
	return &deployment{bin: bin, dir: dir, front: f, ports: ports[:4], ngx: benchkit.NewNginx(prefix, ports[4])}, nil
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

// pids is each port's instance pid, as `hellomgr status` reports it (0
// for a port with no process).
func (d *deployment) pids(ctx context.Context) (map[int]int, error) {
	out, err := d.hellomgr(ctx, "status", "--json")
	if err != nil {
		return nil, err
	}
	var instances []struct {
		Port, PID int
	}
	if err := json.Unmarshal([]byte(out), &instances); err != nil {
		return nil, fmt.Errorf("hellomgr status --json: %w\n%s", err, out)
	}
	pids := map[int]int{}
	for _, in := range instances {
		pids[in.Port] = in.PID
	}
	return pids, nil
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
