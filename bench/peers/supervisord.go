package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// Supervisor is Debian's supervisor package.
var (
	supervisord   = benchkit.Tool{Path: "/usr/bin/supervisord", Package: "supervisor"}
	supervisorctl = "/usr/bin/supervisorctl"
)

// supervisorManager is a supervisord of the bench's own (its own config,
// socket, pid file and logs in the deployment's folder; never the
// system's), run in the foreground as Debian's systemd unit runs it
// (`supervisord -n`), in a session of its own that its programs share, with one [program:app-PORT] per port as Tornado's
// deployment guide shows, every other setting left at its default
// (startsecs=1, autorestart, output captured into log files).
type supervisorManager struct {
	d     *deployment
	child *benchkit.Child
}

func (m *supervisorManager) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, `[unix_http_server]
file=%[1]s/supervisor.sock

[supervisord]
logfile=%[1]s/supervisord.log
pidfile=%[1]s/supervisord.pid
childlogdir=%[1]s/logs

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%[1]s/supervisor.sock
`, m.d.dir)
	for _, port := range m.d.ports {
		fmt.Fprintf(&b, `
[program:app-%[1]d]
command=%[2]s
directory=%[3]s
stopsignal=TERM
`, port, strings.Join(m.d.argv(port), " "), m.d.dir)
	}
	return b.String()
}

func (m *supervisorManager) start(context.Context) error {
	conf := m.d.path("supervisord.conf")
	if err := os.WriteFile(conf, []byte(m.config()), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(supervisord.Path, "-n", "-c", conf)
	cmd.Dir = m.d.dir
	log, err := os.Create(m.d.path("supervisord.out"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	m.child, err = benchkit.StartChild(cmd)
	return err
}

func (m *supervisorManager) process() (benchkit.Process, bool) {
	if m.child == nil {
		return benchkit.Process{}, false
	}
	return benchkit.Find(m.child.PID())
}

func (m *supervisorManager) ctl(ctx context.Context, args ...string) error {
	_, err := command(ctx, m.d.dir, nil, supervisorctl, append([]string{"-c", m.d.path("supervisord.conf")}, args...)...)
	return err
}

// updates: every program at once, as the documentation's `restart all`;
// and one at a time, each port answering the new code before the next is
// restarted, which is the careful user's way.
func (m *supervisorManager) updates() []update {
	return []update{
		{name: "supervisorctl restart all", run: func(ctx context.Context, _ string) error {
			return m.ctl(ctx, "restart", "all")
		}},
		{name: "supervisorctl restart, one by one", run: func(ctx context.Context, want string) error {
			for _, port := range m.d.ports {
				if err := m.ctl(ctx, "restart", fmt.Sprintf("app-%d", port)); err != nil {
					return err
				}
				one := &deployment{ports: []int{port}}
				if _, err := one.waitAnswers(ctx, want, 30*time.Second); err != nil {
					return err
				}
			}
			return nil
		}},
	}
}

// stop sends SIGTERM to supervisord, which stops its programs and exits;
// then whatever still holds a port is stopped by PID.
func (m *supervisorManager) stop() error {
	if m.child == nil {
		return nil
	}
	var err error
	if !m.child.Stop(syscall.SIGTERM, 20*time.Second) {
		err = errors.New("supervisord did not exit within 20 s of SIGTERM; killed")
	}
	return errors.Join(err, stopLeftovers(m.d, "supervisord"))
}
