package benchkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// NginxServer is nginx run in the foreground by the bench, with
// deploy/nginx.conf pointed at a prefix folder of its own.
type NginxServer struct {
	Prefix string // holds nginx.conf, the pid file, the error log and the temp folders
	Conf   string
	Port   int // on 127.0.0.1
	child  *Child
}

// NewNginx describes an nginx whose files live in prefix (an existing
// folder) and that listens on 127.0.0.1:port. Start starts it.
func NewNginx(prefix string, port int) *NginxServer {
	return &NginxServer{Prefix: prefix, Conf: filepath.Join(prefix, "nginx.conf"), Port: port}
}

// URL is the server's root.
func (n *NginxServer) URL() string { return fmt.Sprintf("http://127.0.0.1:%d/", n.Port) }

// ReloadCommand is the command that reloads this nginx: what a hellomgr
// config's nginx.reload_command must say.
func (n *NginxServer) ReloadCommand() []string {
	return []string{Nginx.Path, "-p", n.Prefix, "-c", n.Conf, "-s", "reload"}
}

// PID is the nginx master's pid; 0 before Start.
func (n *NginxServer) PID() int {
	if n.child == nil {
		return 0
	}
	return n.child.PID()
}

// Start writes deploy/nginx.conf of the module at root pointed at the
// prefix and upstreamFile (see DeployConf), checks it with `nginx -t`,
// starts nginx and waits until it listens.
func (n *NginxServer) Start(root, upstreamFile string) error {
	text, err := DeployConf(root, n.Prefix, upstreamFile, n.Port)
	if err != nil {
		return err
	}
	return n.StartConf(text)
}

// StartConf is Start with a whole nginx.conf of the caller's (DeployConf
// edited, say): it writes text to Conf, checks it with `nginx -t`, starts
// nginx and waits until it listens on Port.
func (n *NginxServer) StartConf(text string) error {
	if err := os.WriteFile(n.Conf, []byte(text), 0o644); err != nil {
		return err
	}
	if out, err := exec.Command(Nginx.Path, "-t", "-p", n.Prefix, "-c", n.Conf).CombinedOutput(); err != nil {
		return fmt.Errorf("nginx -t: %w\n%s", err, out)
	}
	cmd := exec.Command(Nginx.Path, "-p", n.Prefix, "-c", n.Conf, "-g", "daemon off;")
	cmd.Stderr = os.Stderr
	child, err := StartChild(cmd)
	if err != nil {
		return err
	}
	n.child = child
	return WaitFor("nginx to listen", 10*time.Second, func() bool { return PortOpen(n.Port) })
}

// Reload reloads nginx (`nginx -s reload`) and returns once the workers
// that ran before it have exited, so that what follows meets only fresh
// workers: no idle keep-alive connection and no upstream server marked
// failed (max_fails) is left from before.
func (n *NginxServer) Reload(ctx context.Context) error {
	old := Children(n.PID())
	args := n.ReloadCommand()
	if out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("nginx -s reload: %w\n%s", err, out)
	}
	return WaitFor("nginx's old workers to exit after a reload", 30*time.Second, func() bool {
		now := Children(n.PID())
		for _, pid := range old {
			if slices.Contains(now, pid) {
				return false
			}
		}
		return len(now) > 0
	})
}

// Stop asks nginx to finish (SIGQUIT: graceful), then kills it after
// 10 s. It is safe to call more than once, and before Start.
func (n *NginxServer) Stop() {
	if n.child != nil {
		n.child.Stop(syscall.SIGQUIT, 10*time.Second)
	}
}

// DeployConf is deploy/nginx.conf of the module at root with its paths
// under prefix, its include pointed at upstreamFile, its server on
// 127.0.0.1:port, and no access log: on a shared 2-core machine, writing
// a log line per request would measure the disk.
func DeployConf(root, prefix, upstreamFile string, port int) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "deploy", "nginx.conf"))
	if err != nil {
		return "", err
	}
	temps := ""
	for _, dir := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		temps += fmt.Sprintf("    %s_temp_path %s/%s;\n", dir, prefix, dir)
	}
	text := string(b)
	for _, e := range []struct{ old, new string }{
		{"user www-data;", "# user: whoever runs the bench"},
		{"pid /run/nginx.pid;", "pid " + prefix + "/nginx.pid;"},
		{"error_log /var/log/nginx/error.log;", "error_log " + prefix + "/error.log;"},
		{"access_log /var/log/nginx/access.log;", "access_log off;"},
		{"http {\n", "http {\n" + temps},
		{"include /etc/nginx/conf.d/hellomgr-upstream.conf;", "include " + upstreamFile + ";"},
		{"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", port)},
	} {
		if n := strings.Count(text, e.old); n != 1 {
			return "", fmt.Errorf("deploy/nginx.conf: %q found %d times, want once", e.old, n)
		}
		text = strings.Replace(text, e.old, e.new, 1)
	}
	return text, nil
}
