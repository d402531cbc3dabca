package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Programs the bench runs, from Debian's packages.
var tools = map[string]string{
	"/usr/sbin/nginx":  "nginx",
	"/usr/bin/wrk":     "wrk",
	"/usr/bin/python3": "python3-tornado",
}

func checkTools(apps []string) error {
	for path, pkg := range tools {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%s is missing: apt-get install -y %s", path, pkg)
		}
	}
	for _, a := range apps {
		if a != "tornado" {
			continue
		}
		if out, err := exec.Command("/usr/bin/python3", "-c", "import tornado").CombinedOutput(); err != nil {
			return fmt.Errorf("/usr/bin/python3 cannot import tornado (%v: %s): apt-get install -y python3-tornado", err, out)
		}
	}
	return nil
}

// moduleRoot is the folder of hellomgr's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run from inside the hellomgr module (go env GOMOD: %q, %v)", gomod, err)
	}
	return filepath.Dir(gomod), nil
}

// build compiles hellomgr into dir, so the bench runs the code as it is.
func build(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "hellomgr")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build hellomgr: %w\n%s", err, out)
	}
	return bin, nil
}

// deployment is one app's folder: config.yaml, its instances under a
// manager started by `hellomgr up -d`, and the nginx in front of them.
type deployment struct {
	bin, dir string
	ports    []int
	ngx      *nginxServer
}

func newDeployment(bin string) (*deployment, error) {
	dir, err := os.MkdirTemp("", "hmb") // short: the control socket lives here
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(5)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	prefix := filepath.Join(dir, "nginx")
	if err := os.Mkdir(prefix, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ngx := &nginxServer{prefix: prefix, conf: filepath.Join(prefix, "nginx.conf"), port: ports[4]}
	return &deployment{bin: bin, dir: dir, ports: ports[:4], ngx: ngx}, nil
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
		b, _ := os.ReadFile(d.path(".hellomgr/hellomgr.pid"))
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	d.ngx.stop()
	os.RemoveAll(d.dir)
}

// nginxServer is nginx run in the foreground by the bench.
type nginxServer struct {
	prefix, conf string
	port         int
	cmd          *exec.Cmd
	done         chan struct{}
}

func (n *nginxServer) reloadCommand() []string {
	return []string{"/usr/sbin/nginx", "-p", n.prefix, "-c", n.conf, "-s", "reload"}
}

func (n *nginxServer) url() string { return fmt.Sprintf("http://127.0.0.1:%d/", n.port) }

// start writes deploy/nginx.conf pointed at the prefix and the upstream
// file, checks it with `nginx -t` and starts nginx.
func (n *nginxServer) start(root, upstreamFile string) error {
	text, err := deployConf(root, n.prefix, upstreamFile, n.port)
	if err != nil {
		return err
	}
	if err := os.WriteFile(n.conf, []byte(text), 0o644); err != nil {
		return err
	}
	if out, err := exec.Command("/usr/sbin/nginx", "-t", "-p", n.prefix, "-c", n.conf).CombinedOutput(); err != nil {
		return fmt.Errorf("nginx -t: %w\n%s", err, out)
	}
	n.cmd = exec.Command("/usr/sbin/nginx", "-p", n.prefix, "-c", n.conf, "-g", "daemon off;")
	n.cmd.Stderr = os.Stderr
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("start nginx: %w", err)
	}
	n.done = make(chan struct{})
	go func() { n.cmd.Wait(); close(n.done) }()
	return waitFor("nginx to listen", 10*time.Second, func() bool { return portOpen(n.port) })
}

// stop asks nginx to finish (SIGQUIT), then kills it after 10 s.
func (n *nginxServer) stop() {
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
}

// deployConf is deploy/nginx.conf with its paths under prefix, its
// include pointed at upstreamFile, its server on 127.0.0.1:port, and no
// access log: on a shared 2-core machine, writing a log line per request
// would measure the disk.
func deployConf(root, prefix, upstreamFile string, port int) (string, error) {
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

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func portOpen(port int) bool {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func waitFor(what string, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
