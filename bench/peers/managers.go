package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// manager runs the 4 Tornado instances of one deployment its own way.
type manager interface {
	// start runs the command that starts the 4 instances, as the tool's
	// users type it; it may return before the ports answer.
	start(ctx context.Context) error
	// process is the manager's own process (the one whose CPU and memory
	// are measured); false for instances started by hand.
	process() (benchkit.Process, bool)
	// updates are the ways the tool's users roll out new code.
	updates() []update
	// stop stops the manager and every instance, by PID.
	stop() error
}

// update rolls out the code on disk; want is what it answers.
type update struct {
	name string
	run  func(ctx context.Context, want string) error
}

// command runs name with args in dir, with env added, and returns its
// output; the error carries the output.
func command(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// stopLeftovers stops, by PID, what still listens on the deployment's
// ports after the manager was asked to stop, and names it.
func stopLeftovers(d *deployment, who string) error {
	left := d.listeners()
	if len(left) == 0 {
		return nil
	}
	err := benchkit.StopAll(left, syscall.SIGKILL, 5*time.Second)
	return fmt.Errorf("%s left %d processes on its ports (stopped by pid: %v): %w", who, len(left), left, err)
}

// byHand is the baseline: the 4 processes started from a shell, as a
// user would by hand, each appending its log to a file itself, with no
// manager in between. The shell and the 4 share a session, as they would
// in a terminal (and so one scheduling group, as each manager and its
// apps do).
type byHand struct {
	d     *deployment
	shell *benchkit.Child
}

func (m *byHand) start(ctx context.Context) error {
	var script strings.Builder
	for _, port := range m.d.ports {
		fmt.Fprintf(&script, "%s >>logs/%d.log 2>&1 &\n", strings.Join(m.d.argv(port), " "), port)
	}
	script.WriteString("wait\n")
	cmd := exec.Command("/bin/sh", "-c", script.String())
	cmd.Dir = m.d.dir
	var err error
	m.shell, err = benchkit.StartChild(cmd)
	return err
}

func (m *byHand) process() (benchkit.Process, bool) { return benchkit.Process{}, false }
func (m *byHand) updates() []update                 { return nil }

// stop sends SIGTERM to the shell's process group: the shell and the 4.
func (m *byHand) stop() error {
	if m.shell != nil {
		m.shell.Stop(syscall.SIGTERM, 5*time.Second)
	}
	return stopLeftovers(m.d, "by hand")
}

// hellomgrManager is hellomgr as examples/tornado/config.yaml sets it up:
// socket handoff, readiness on GET /, one instance at a time, and the
// nginx drain.
type hellomgrManager struct {
	d   *deployment
	bin string
}

func (m *hellomgrManager) config() string {
	return fmt.Sprintf(`ports: %s
command: %s
ready:
  http: /
  timeout: 10s
stop:
  signal: SIGTERM
  timeout: 10s
reload:
  max_unavailable: 1
  handoff: socket
nginx:
  upstream: hellomgr
  upstream_file: %s
  reload_command: %s
  drain_timeout: 10s
logs:
  dir: logs
metrics:
  address: 127.0.0.1:0
`, yamlInts(m.d.ports), yamlStrings(m.d.argv(0)), m.d.upstream, yamlStrings(m.d.ngx.ReloadCommand()))
}

func (m *hellomgrManager) run(ctx context.Context, args ...string) (string, error) {
	return command(ctx, m.d.dir, nil, m.bin, append(args, "-c", m.d.path("config.yaml"))...)
}

func (m *hellomgrManager) start(ctx context.Context) error {
	if err := os.WriteFile(m.d.path("config.yaml"), []byte(m.config()), 0o644); err != nil {
		return err
	}
	_, err := m.run(ctx, "up", "-d")
	return err
}

func (m *hellomgrManager) process() (benchkit.Process, bool) {
	p, err := benchkit.FindFile(m.d.path(".hellomgr/hellomgr.pid"))
	return p, err == nil
}

func (m *hellomgrManager) updates() []update {
	return []update{{name: "hellomgr reload", run: func(ctx context.Context, _ string) error {
		_, err := m.run(ctx, "reload")
		return err
	}}}
}

// stop runs `hellomgr down`; should that fail, SIGKILL to the manager
// takes its instances with it (parent-death signal).
func (m *hellomgrManager) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, ok := m.process()
	_, err := m.run(ctx, "down")
	if ok {
		err = errors.Join(err, p.Stop(syscall.SIGKILL, 0))
	}
	return errors.Join(err, stopLeftovers(m.d, "hellomgr"))
}

func yamlInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func yamlStrings(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
