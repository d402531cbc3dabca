package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hellomgr/hellomgr/internal/testnet"

	"github.com/hellomgr/hellomgr/nginx"
)

func portsYAML(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// The built-in server behind an upstream with nginx's default failure
// settings (max_fails=1 fail_timeout=10s: one refused connect takes an
// instance out for 10 s) and keep-alive. hellomgr holds each port's socket
// and hands it to the new process, so nginx never sees a refused connect.
func TestReloadBehindNginxBuiltIn(t *testing.T) {
	d := newDeployment(t)
	ports := testnet.FreePorts(t, 4)
	config := func(message string) string {
		return fmt.Sprintf(`ports: %s
command: [%q, serve, --port, "{port}", --message, %q]
reload:
  handoff: socket
ready:
  notify: true
metrics:
  address: 127.0.0.1:0
`, portsYAML(ports), hellomgrBin, message)
	}
	d.write("config.yaml", config("Hello v1"))
	d.mustRun("up", "-d")
	var servers strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&servers, "        server 127.0.0.1:%d;\n", p)
	}
	ngx := startNginx(t, "    upstream app {\n"+servers.String()+"        keepalive 32;\n    }", nginx.Location("app"))
	before := d.pids()

	// Clients keep their connections to nginx alive: nginx is never
	// reloaded here, so nothing closes them.
	results, reloaded, out := d.reloadUnderLoad(fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port), true, func() {
		d.write("config.yaml", config("Hello v2"))
	})
	t.Logf("reload:\n%s", out)
	t.Logf("nginx error log:\n%s", readFile(ngx.Prefix+"/error.log"))
	checkReplaced(t, before, d.pids())
	// POST on / is 405, as Tornado's RequestHandler answers a method it
	// does not define: still an answer from the app, never a 502.
	checkLoad(t, results, reloaded, map[string]answer{"GET": {200, "Hello v2"}, "POST": {405, ""}})
}

// The seed's Tornado app, which dies at once on SIGTERM: hellomgr takes
// each instance out of the nginx upstream it writes (the one `hellomgr
// nginx` prints) before stopping it. The code change is hello.py edited on
// disk.
func TestReloadBehindNginxTornado(t *testing.T) {
	needTornado(t)
	d := newDeployment(t)
	ports := testnet.FreePorts(t, 4)
	app, err := os.ReadFile("../examples/tornado/hello.py")
	if err != nil {
		t.Fatal(err)
	}
	d.write("hello.py", string(app))
	upstreamFile := filepath.Join(d.dir, "upstream.conf")
	// nginx must be running before hellomgr can reload it, and it needs
	// the upstream file to start: write a first one, as `up` would.
	d.write("upstream.conf", string(nginx.Upstream{Name: "hellomgr", Ports: ports}.Render()))
	ngx := startNginx(t, "    include "+upstreamFile+";", nginx.Location("hellomgr"))
	d.write("config.yaml", fmt.Sprintf(`ports: %s
command: [/usr/bin/python3, hello.py, "--port={port}"]
reload:
  handoff: socket
nginx:
  upstream_file: upstream.conf
  reload_command: %s
metrics:
  address: 127.0.0.1:0
`, portsYAML(ports), yamlList(ngx.ReloadCommand())))
	d.mustRun("up", "-d")
	before := d.pids()

	// Each request is a new client connection to nginx. hellomgr reloads
	// nginx twice per instance here, and a reloading nginx closes its idle
	// client keep-alive connections at once; a client that writes a POST
	// on one at that moment gets an error no backend can prevent (browsers
	// resend it, Go's http.Client does not). The upstream side, nginx to
	// Tornado, keeps its connections alive.
	results, reloaded, out := d.reloadUnderLoad(fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port), false, func() {
		d.write("hello.py", strings.ReplaceAll(string(app), `self.write("Hello Itcast!")`, `self.write("Hello v2")`))
	})
	t.Logf("reload:\n%s", out)
	t.Logf("nginx error log:\n%s", readFile(ngx.Prefix+"/error.log"))
	checkReplaced(t, before, d.pids())
	v2 := answer{200, "Hello v2"}
	checkLoad(t, results, reloaded, map[string]answer{"GET": v2, "POST": v2})
	if text, _ := os.ReadFile(upstreamFile); strings.Contains(string(text), " down") {
		t.Errorf("upstream file still marks a server down after the reload:\n%s", text)
	}
}

func yamlList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
