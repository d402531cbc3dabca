package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// npm brings PM2 from the npm registry; node runs it.
var (
	npm  = benchkit.Tool{Path: "/usr/bin/npm", Package: "npm"}
	node = benchkit.Tool{Path: "/usr/bin/node", Package: "nodejs"}
)

// installPM2 installs pm2@version into dir (bench/out/pm2-VERSION by
// default, a cache kept between runs) unless it is there, and returns
// the path of its pm2 command.
func installPM2(ctx context.Context, dir, version string) (string, error) {
	bin := filepath.Join(dir, "node_modules", ".bin", "pm2")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "installing pm2@%s into %s\n", version, dir)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if _, err := command(ctx, dir, nil, npm.Path, "install", "--no-audit", "--no-fund", "--prefix", dir, "pm2@"+version); err != nil {
		return "", err
	}
	return bin, nil
}

// pm2Manager is PM2 with a home of its own (PM2_HOME in the deployment's
// folder), so it runs its own daemon, the "God Daemon"; the 4 apps come
// from an ecosystem file, fork mode (a Python app cannot use PM2's
// cluster mode), every other setting left at its default (logs to
// PM2_HOME/logs, SIGINT to stop, 1.6 s before SIGKILL).
type pm2Manager struct {
	d   *deployment
	bin string
	god benchkit.Process // the daemon, once started
}

func (m *pm2Manager) home() string { return m.d.path("pm2") }

func (m *pm2Manager) run(ctx context.Context, args ...string) (string, error) {
	return command(ctx, m.d.dir, []string{"PM2_HOME=" + m.home()}, m.bin, args...)
}

func (m *pm2Manager) ecosystem() ([]byte, error) {
	type app struct {
		Name        string   `json:"name"`
		Script      string   `json:"script"`
		Interpreter string   `json:"interpreter"`
		Args        []string `json:"args"`
		Cwd         string   `json:"cwd"`
	}
	var apps []app
	for _, port := range m.d.ports {
		apps = append(apps, app{Name: fmt.Sprintf("app-%d", port), Script: "hello.py",
			Interpreter: benchkit.Tornado.Path, Args: m.d.argv(port)[2:], Cwd: m.d.dir})
	}
	b, err := json.MarshalIndent(map[string]any{"apps": apps}, "", "  ")
	return append([]byte("module.exports = "), b...), err
}

// start runs `pm2 start ecosystem.config.js`, which also starts the
// daemon: a user's first start does the same.
func (m *pm2Manager) start(ctx context.Context) error {
	eco, err := m.ecosystem()
	if err != nil {
		return err
	}
	if err := os.WriteFile(m.d.path("ecosystem.config.js"), eco, 0o644); err != nil {
		return err
	}
	_, err = m.run(ctx, "start", "ecosystem.config.js")
	if p, perr := benchkit.FindFile(filepath.Join(m.home(), "pm2.pid")); perr == nil {
		m.god = p
	}
	return err
}

func (m *pm2Manager) process() (benchkit.Process, bool) { return m.god, m.god.PID != 0 }

// updates: `pm2 reload all` is what PM2 offers for zero-downtime reloads;
// for an app in fork mode it is a restart (lib/God/Reload.js), like
// `pm2 restart all`, 2 apps at a time (PM2_CONCURRENT_ACTIONS).
func (m *pm2Manager) updates() []update {
	pm2 := func(args ...string) func(context.Context, string) error {
		return func(ctx context.Context, _ string) error {
			_, err := m.run(ctx, args...)
			return err
		}
	}
	return []update{
		{name: "pm2 restart all", run: pm2("restart", "all")},
		{name: "pm2 reload all", run: pm2("reload", "all")},
	}
}

// stop runs `pm2 kill` with the deployment's PM2_HOME, checks that the
// daemon is gone (else stops it by PID), then stops whatever still holds
// a port.
func (m *pm2Manager) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if m.god.PID != 0 || fileExists(filepath.Join(m.home(), "pm2.pid")) {
		if _, err := m.run(ctx, "kill"); err != nil {
			errs = append(errs, err)
		}
	}
	if m.god.PID != 0 && !m.god.WaitGone(5*time.Second) {
		errs = append(errs, fmt.Errorf("pm2 kill left the daemon (pid %d) running; stopping it by pid: %w",
			m.god.PID, m.god.Stop(syscall.SIGTERM, 5*time.Second)))
	}
	errs = append(errs, stopLeftovers(m.d, "pm2"))
	return errors.Join(errs...)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
