package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// nginxServer is a real nginx on a free loopback port, started by the test
// and stopped by pid when it ends.
type nginxServer struct {
	Port   int
	Prefix string
	Conf   string
}

// startNginx runs nginx with an http block holding upstream (the upstream
// block itself, or an include of it) and one server proxying to it with
// the location that `hellomgr nginx` prints.
func startNginx(t *testing.T, upstream, location string) *nginxServer {
	t.Helper()
	need(t, "/usr/sbin/nginx", "nginx")
	prefix := t.TempDir()
	n := &nginxServer{Port: testnet.FreePorts(t, 1)[0], Prefix: prefix, Conf: filepath.Join(prefix, "nginx.conf")}
	conf := nginxConf(prefix, upstream, fmt.Sprintf("127.0.0.1:%d", n.Port), location)
	if err := os.WriteFile(n.Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/usr/sbin/nginx", "-t", "-p", prefix, "-c", n.Conf).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s\n%s", err, out, conf)
	}
	cmd := exec.Command("/usr/sbin/nginx", "-p", prefix, "-c", n.Conf, "-g", "daemon off;")
	cmd.Stderr = os.Stderr
	testnet.StartServer(t, cmd, syscall.SIGQUIT) // SIGQUIT: nginx's graceful stop
	testnet.WaitFor(t, "nginx to listen", 10*time.Second, func() bool { return testnet.PortOpen(n.Port) })
	return n
}

// nginxConf is a whole nginx config whose files live under prefix, with
// httpPart in its http block and one server listening on listen with
// location in it.
func nginxConf(prefix, httpPart, listen, location string) string {
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
        listen %[3]s;
%[4]s
    }
}
`, prefix, httpPart, listen, location)
}

// ReloadCommand is the argv that reloads this nginx.
func (n *nginxServer) ReloadCommand() []string {
	return []string{"/usr/sbin/nginx", "-p", n.Prefix, "-c", n.Conf, "-s", "reload"}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
