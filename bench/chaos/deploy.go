package main

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
	"github.com/hellomgr/hellomgr/control"
)

//go:embed app.py
var appPy []byte

// tokenVar is set in the environment of every manager the run starts;
// the instances and hooks inherit it, so that /proc tells what belongs to
// the run (leaks.go).
const tokenVar = "HELLOMGR_CHAOS_RUN"

// manager is one hellomgr config of the run, its manager started with
// `up -d` and the nginx in front of its ports.
type manager struct {
	name    string // "built-in" or "tornado"
	bin     string
	dir     string // the config's folder: .hellomgr/ lives here
	ports   []int
	env     []string
	gen     int // bumped by each config edit
	logsDir string
	proc    benchkit.Process // the running manager, zero when none
	nginx   *benchkit.NginxServer
	client  *control.Client
	// stopped holds the ports stopped for maintenance (`hellomgr stop`),
	// which must stay stopped until started.
	stopped map[int]bool
}

func (m *manager) config() string { return filepath.Join(m.dir, "config.yaml") }

func (m *manager) managerLog() string { return filepath.Join(m.dir, ".hellomgr", "hellomgr.log") }

// writeConfig writes the manager's config.yaml for generation m.gen: the
// generation is in the instances' environment, so that an edit is a change
// that a reload rolls out and an upgrade refuses.
func (m *manager) writeConfig(root string) error {
	var ports []string
	for _, p := range m.ports {
		ports = append(ports, strconv.Itoa(p))
	}
	// A hook that leaves a child of its own, as a curl to a webhook sent to
	// the background does (issue 20's `sleep 300 &`), and is slow: half of
	// them (by pid) take 1 s, the others 4 s, past hooks.timeout.
	hook := `sleep 300 & sleep $(( $$ % 2 * 3 + 1 )); echo "hook $PORT $REASON"`
	text := fmt.Sprintf(`ports: [%s]
env:
  CHAOS_GEN: "%d"
restart:
  backoff: 50ms
  max_backoff: 1s
  reset_after: 20s
  max_tries: 3
logs:
  dir: %s
  max_size: 1MB
  max_files: 100
metrics:
  address: 127.0.0.1:0
hooks:
  on_restart: [/bin/sh, -c, %q]
  on_failed: [/bin/sh, -c, %q]
  timeout: 2s
`, strings.Join(ports, ", "), m.gen, m.logsDir, hook, hook)
	if m.name == "tornado" {
		app := filepath.Join(m.dir, "chaosapp.py")
		if err := os.WriteFile(app, appPy, 0o644); err != nil {
			return err
		}
		text += fmt.Sprintf(`command: [/usr/bin/python3, %q, "{port}", "20"]
ready:
  notify: true
  timeout: 20s
reload:
  handoff: socket
`, app)
		text = strings.Replace(text, "env:\n", fmt.Sprintf("env:\n  PYTHONPATH: %q\n", benchkit.TornadoPackage(root)), 1)
	}
	return os.WriteFile(m.config(), []byte(text), 0o644)
}

// hellomgr runs one hellomgr command on the manager's config, bounded by
// limit, and returns its combined output.
func (m *manager) hellomgr(ctx context.Context, limit time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.bin, append(args, "-c", m.config())...)
	cmd.Env = m.env
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("no answer within %s", limit)
	}
	return strings.TrimSpace(string(out)), err
}

// up starts the manager with `up -d` and learns its pid.
func (m *manager) up(ctx context.Context) error {
	if out, err := m.hellomgr(ctx, 2*time.Minute, "up", "-d"); err != nil {
		return fmt.Errorf("%s: hellomgr up -d: %w\n%s", m.name, err, out)
	}
	p, err := benchkit.FindFile(filepath.Join(m.dir, ".hellomgr", "hellomgr.pid"))
	if err != nil {
		return fmt.Errorf("%s: %w", m.name, err)
	}
	m.proc = p
	m.stopped = map[int]bool{}
	m.client = control.Dial(filepath.Join(m.dir, ".hellomgr", "hellomgr.sock"))
	return nil
}

// alive reports whether the manager started last still runs.
func (m *manager) alive() bool { return m.proc.PID != 0 && m.proc.Alive() }

// status asks the manager for its report over the control API, within limit.
func (m *manager) status(ctx context.Context, limit time.Duration) (control.Report, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	began := time.Now()
	r, err := m.client.Status(ctx)
	return r, time.Since(began), err
}

// pidOf is the pid status gives port, 0 when none.
func (m *manager) pidOf(ctx context.Context, port int) int {
	r, _, err := m.status(ctx, 10*time.Second)
	if err != nil {
		return 0
	}
	for _, i := range r.Instances {
		if i.Port == port {
			return i.PID
		}
	}
	return 0
}

// startNginx starts an nginx whose http block holds exactly the part
// `hellomgr nginx` prints for it, and whose one server block holds
// exactly the location it prints.
func (m *manager) startNginx(ctx context.Context) error {
	printed, err := m.hellomgr(ctx, 30*time.Second, "nginx")
	if err != nil {
		return fmt.Errorf("%s: hellomgr nginx: %w\n%s", m.name, err, printed)
	}
	httpPart, location, ok := strings.Cut(printed, "# In a server { } block:")
	if !ok {
		return fmt.Errorf("%s: hellomgr nginx printed no server part:\n%s", m.name, printed)
	}
	port, err := benchkit.FreePorts(1)
	if err != nil {
		return err
	}
	prefix := filepath.Join(m.dir, "nginx")
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		return err
	}
	temps := ""
	for _, d := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		temps += fmt.Sprintf("    %s_temp_path %s/%s;\n", d, prefix, d)
	}
	conf := fmt.Sprintf(`worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 1024; }
http {
%s    access_log off;
%s
    server {
        listen 127.0.0.1:%d;
%s
    }
}
`, prefix, prefix, temps, httpPart, port[0], location)
	m.nginx = benchkit.NewNginx(prefix, port[0])
	return m.nginx.StartConf(conf)
}
