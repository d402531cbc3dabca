package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// seedBroken is the seed's app with a bad deploy in it: / answers 500,
// while its health path answers 200, so readiness passes.
const seedBroken = `
HEALTHY = []


class HealthHandler(tornado.web.RequestHandler):
    def get(self):
        HEALTHY.append(1)
        self.write("ok")
`

// brokenSeed returns the seed's source with / answering 500 (or, with
// hang, blocking its whole process on the first GET / once its health
// path has answered, so that it gets ready first) and /health 200.
func brokenSeed(t *testing.T, hang bool) string {
	t.Helper()
	src := readTornadoExample(t, "seed.py")
	bad := `        raise tornado.web.HTTPError(500)`
	if hang {
		bad = "        if HEALTHY:\n            import time\n            time.sleep(3600)\n        self.write(\"Hello v2\")"
	}
	get := "    def get(self):\n        \"\"\"对应http的get请求方式\"\"\"\n        self.write(\"Hello Itcast!\")"
	if !strings.Contains(src, get) {
		t.Fatalf("examples/tornado/seed.py: no GET handler like %q", get)
	}
	src = strings.Replace(src, get, "    def get(self):\n"+bad, 1)
	src = strings.Replace(src, "\nif __name__", seedBroken+"\n\nif __name__", 1)
	return strings.Replace(src, `(r"/", IndexHandler),`, `(r"/", IndexHandler), (r"/health", HealthHandler),`, 1)
}

func seedConfig(ports []int, script, readyPath string) string {
	return fmt.Sprintf("ports: %s\ncommand: [/usr/bin/python3, %s, \"--port={port}\"]\nready:\n  http: %s\nmetrics:\n  address: 127.0.0.1:0\n", portsYAML(ports), script, readyPath)
}

func builtinConfig(ports []int, extra ...string) string {
	argv := append([]string{hellomgrBin, "serve", "--port", "{port}"}, extra...)
	return fmt.Sprintf("ports: %s\ncommand: %s\nmetrics:\n  address: 127.0.0.1:0\n", portsYAML(ports), yamlList(argv))
}

// The seed's Tornado app, unmodified, behind the printed nginx; its new
// build answers 500 on / and 200 on its health path. `reload --canary 1
// --watch 8s` under load through nginx fails on nginx's record (the seed
// counts nothing itself), the canary is back on the old code, and no
// other port ever ran the new build.
func TestCanaryTornadoSeedAnswering500(t *testing.T) {
	needTornado(t)
	d := newDeployment(t)
	ports := sortedFreePorts(t, 4)
	d.write("seed.py", readTornadoExample(t, "seed.py"))
	d.write("broken.py", brokenSeed(t, false))
	d.write("config.yaml", seedConfig(ports, "seed.py", "/"))
	out := canaryUnderLoad(t, d, ports, seedConfig(ports, "broken.py", "/health"), "Hello Itcast!")
	if !strings.Contains(out, "(nginx's record)") {
		t.Errorf("the evidence does not come from nginx's record:\n%s", out)
	}
}

// The same with the built-in server and --fail-percent: judged on
// nginx's record and on its own http_requests_total.
func TestCanaryBuiltInFailPercent(t *testing.T) {
	d := newDeployment(t)
	ports := sortedFreePorts(t, 4)
	d.write("config.yaml", builtinConfig(ports, "--message", "v1"))
	canaryUnderLoad(t, d, ports, builtinConfig(ports, "--message", "v2", "--fail-percent", "20"), "v1")
}

// canaryUnderLoad runs d behind the printed nginx, reloads to next with
// a canary under GET load through nginx, and checks that the reload
// failed on the canary's 5xx, the canary's port answers old again, and
// the other ports kept their processes. It returns reload's output.
func canaryUnderLoad(t *testing.T, d *deployment, ports []int, next, old string) string {
	t.Helper()
	d.mustRun("up", "-d")
	httpPart, location := d.printedNginx()
	ngx := startNginx(t, httpPart, location)
	before := d.pids()
	load := startLoad(fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port), 8, 1<<30, true, http.MethodGet)
	testnet.WaitFor(t, "some load before", 30*time.Second, func() bool { return load.count() > 200 })
	d.write("config.yaml", next)
	out, err := d.run("reload", "--canary", "1", "--watch", "8s")
	load.finish()
	t.Logf("reload:\n%s", out)
	canary := ports[0]
	if err == nil || !strings.Contains(out, "the canary failed") || !strings.Contains(out, strconv.Itoa(canary)+": answered 5xx to") {
		t.Fatalf("reload --canary 1: %v; want exit 1 with port %d's share of 5xx as evidence", err, canary)
	}
	after := d.pids()
	for _, p := range ports[1:] {
		if after[p] != before[p] {
			t.Errorf("port %d: pid %d -> %d; want it never replaced (it must never run the new build)", p, before[p], after[p])
		}
	}
	if after[canary] == before[canary] {
		t.Errorf("port %d: pid %d still; want the canary replaced, then put back", canary, before[canary])
	}
	for _, p := range ports {
		if body, err := testnet.Get(p); body != old {
			t.Errorf("port %d after the rollback: %q, %v; want the old code's %q", p, body, err, old)
		}
	}
	return out
}

// Defect 7 of issue 20: a canary frozen during its watch (SIGSTOP) used
// to pass ("the app counts no requests" -> "held up"). It fails now, and
// the reload goes no further.
func TestCanaryFrozenFails(t *testing.T) {
	d := newDeployment(t)
	ports := sortedFreePorts(t, 3)
	d.write("config.yaml", builtinConfig(ports, "--message", "v1"))
	d.mustRun("up", "-d")
	httpPart, location := d.printedNginx()
	ngx := startNginx(t, httpPart, location)
	before := d.pids()
	load := startLoad(fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port), 4, 1<<30, true, http.MethodGet)
	defer load.finish()
	d.write("config.yaml", builtinConfig(ports, "--message", "v2"))
	done := make(chan string, 1)
	go func() {
		out, err := d.run("reload", "--canary", "1", "--watch", "8s")
		done <- fmt.Sprintf("%v\n%s", err, out)
	}()
	canary := ports[0]
	var frozen int
	testnet.WaitFor(t, "the canary to run", 30*time.Second, func() bool {
		body, _ := testnet.Get(canary)
		frozen = d.pids()[canary]
		return body == "v2" && frozen != before[canary]
	})
	syscall.Kill(frozen, syscall.SIGSTOP)
	defer syscall.Kill(frozen, syscall.SIGCONT)
	out := <-done
	t.Logf("reload:\n%s", out)
	if !strings.HasPrefix(out, "exit status 1") || !strings.Contains(out, "the canary failed") || !strings.Contains(out, "stopped") {
		t.Fatalf("reload of a frozen canary: want exit 1 with the stopped process as evidence")
	}
	after := d.pids()
	for _, p := range ports[1:] {
		if after[p] != before[p] {
			t.Errorf("port %d: pid %d -> %d; want it untouched", p, before[p], after[p])
		}
	}
}

// A hung canary (its only thread blocked in a handler) stops answering
// its health path: it fails, though its process runs and is ready.
func TestCanaryHungTornadoFails(t *testing.T) {
	needTornado(t)
	d := newDeployment(t)
	ports := sortedFreePorts(t, 3)
	d.write("seed.py", readTornadoExample(t, "seed.py"))
	d.write("hung.py", brokenSeed(t, true))
	d.write("config.yaml", seedConfig(ports, "seed.py", "/"))
	d.mustRun("up", "-d")
	httpPart, location := d.printedNginx()
	ngx := startNginx(t, httpPart, location)
	load := startLoad(fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port), 8, 1<<30, true, http.MethodGet)
	defer load.finish()
	d.write("config.yaml", seedConfig(ports, "hung.py", "/health"))
	out, err := d.run("reload", "--canary", "1", "--watch", "8s")
	t.Logf("reload:\n%s", out)
	if err == nil || !strings.Contains(out, "the canary failed") || !strings.Contains(out, "stopped answering") {
		t.Fatalf("reload of a hung canary: %v; want exit 1 with its silence as evidence", err)
	}
}

// A canary that received nothing during its watch does not pass
// silently: the manager's own reads of its /metrics are not traffic.
// --allow-idle lets it pass, saying so.
func TestCanaryIdle(t *testing.T) {
	d := newDeployment(t)
	ports := sortedFreePorts(t, 2)
	d.write("config.yaml", builtinConfig(ports, "--message", "v1"))
	d.mustRun("up", "-d")
	d.write("config.yaml", builtinConfig(ports, "--message", "v2"))
	out, err := d.run("reload", "--canary", "1", "--watch", "3s")
	t.Logf("reload:\n%s", out)
	if err == nil || !strings.Contains(out, strconv.Itoa(ports[0])+": received no requests during the watch") {
		t.Fatalf("reload of an idle canary: %v; want exit 1 saying it received no requests", err)
	}
	out, err = d.run("reload", "--canary", "1", "--watch", "2s", "--allow-idle")
	t.Logf("reload --allow-idle:\n%s", out)
	if err != nil || !strings.Contains(out, "held up") {
		t.Fatalf("reload --allow-idle of an idle canary: %v; want it to pass", err)
	}
	for _, p := range ports {
		if body, _ := testnet.Get(p); body != "v2" {
			t.Errorf("port %d: %q, want v2", p, body)
		}
	}
}
