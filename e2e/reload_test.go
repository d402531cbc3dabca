package e2e

import (
	"fmt"
	"net/http"
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

// The built-in server spelled out in `command:` to pass it a flag, with no
// reload or ready keys: it gets the built-in's handoff and READY=1 all the
// same. Behind exactly what `hellomgr nginx` prints for it (nginx's default
// max_fails=1 fail_timeout=10s: one refused connect would take a port out
// for 10 s) and keep-alive, nginx never sees a refused connect.
func TestReloadBehindNginxBuiltInSpelledOut(t *testing.T) {
	d := newDeployment(t)
	ports := testnet.FreePorts(t, 4)
	config := func(message string) string {
		return fmt.Sprintf(`ports: %s
command: [%q, serve, --port, "{port}", --message, %q]
metrics:
  address: 127.0.0.1:0
`, portsYAML(ports), hellomgrBin, message)
	}
	d.write("config.yaml", config("Hello v1"))
	if out := d.mustRun("check"); strings.Contains(out, "warning:") || !strings.Contains(out, "swap: handoff + READY=1") {
		t.Errorf("check of the built-in spelled out:\n%s\nwant handoff + READY=1 and no warning", out)
	}
	d.mustRun("up", "-d")
	httpPart, location := d.printedNginx()
	ngx := startNginx(t, httpPart, location)
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

// A user's own app, unmodified, that binds its port itself and dies at once
// on SIGTERM (the seed's Tornado app; a plain http.server app), with no
// nginx: section, behind exactly what `hellomgr nginx` prints for it. Each
// port refuses connects while it restarts; the printed upstream's
// max_fails=0 keeps nginx passing those, and GETs cut by the dying process,
// to the next port: no GET fails. (POSTs the old process holds can fail:
// check warns, and bench/reload counts them.)
func TestReloadOfAnUnmodifiedAppBehindPrintedNginx(t *testing.T) {
	needTornado(t)
	apps := []struct {
		name, file, command, line, change string
	}{
		{"tornado", "tornado/seed.py", `[/usr/bin/python3, app.py, "--port={port}"]`, `self.write("Hello Itcast!")`, `self.write("Hello v2")`},
		{"http.server", "plain/app.py", `[/usr/bin/python3, app.py, --port, "{port}"]`, `b"Hello Itcast!"`, `b"Hello v2"`},
	}
	for _, app := range apps {
		t.Run(app.name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("..", "examples", app.file))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(src), app.line) {
				t.Fatalf("examples/%s: no %s to change", app.file, app.line)
			}
			d := newDeployment(t)
			d.write("app.py", string(src))
			d.write("config.yaml", fmt.Sprintf("ports: %s\ncommand: %s\nmetrics:\n  address: 127.0.0.1:0\n", portsYAML(testnet.FreePorts(t, 4)), app.command))
			if out := d.mustRun("check"); !strings.Contains(out, "warning: POSTs the old process holds") {
				t.Errorf("check of an app that refuses connects while it restarts:\n%s\nwant a warning about POSTs", out)
			}
			d.mustRun("up", "-d")
			httpPart, location := d.printedNginx()
			ngx := startNginx(t, httpPart, location)
			before := d.pids()
			results, reloaded, out := d.reloadUnderLoad(fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port), true, func() {
				d.write("app.py", strings.ReplaceAll(string(src), app.line, app.change))
			}, http.MethodGet)
			t.Logf("reload:\n%s", out)
			t.Logf("nginx error log:\n%s", readFile(ngx.Prefix+"/error.log"))
			checkReplaced(t, before, d.pids())
			checkLoad(t, results, reloaded, map[string]answer{"GET": {200, "Hello v2"}})
		})
	}
}

// The seed's Tornado app, unmodified (examples/tornado/seed.py), which
// binds its port itself and dies at once on SIGTERM: with an nginx:
// section, hellomgr takes each instance out of the nginx upstream it writes
// before stopping it (examples/tornado/nginx-drain.yaml). The code change
// is the app edited on disk.
func TestReloadBehindNginxTornado(t *testing.T) {
	needTornado(t)
	d := newDeployment(t)
	ports := testnet.FreePorts(t, 4)
	app, err := os.ReadFile("../examples/tornado/seed.py")
	if err != nil {
		t.Fatal(err)
	}
	d.write("hello.py", string(app))
	upstreamFile := filepath.Join(d.dir, "upstream.conf")
	// nginx must be running before hellomgr can reload it, and it needs
	// the upstream file to start: write a first one, as `up` would.
	if err := (nginx.Upstream{Name: "hellomgr", Ports: ports}).WriteFile(upstreamFile); err != nil {
		t.Fatal(err)
	}
	ngx := startNginx(t, "    include "+upstreamFile+";", nginx.Location("hellomgr"))
	d.write("config.yaml", fmt.Sprintf(`ports: %s
command: [/usr/bin/python3, hello.py, "--port={port}"]
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
