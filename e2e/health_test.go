package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// One of 4 built-in instances behind what `hellomgr nginx` prints freezes
// (SIGSTOP) under load through nginx, with keep-alive clients and nginx's
// keep-alive connections to the instances: its liveness probes time out,
// and it is replaced as `hellomgr restart` replaces it (handoff + READY=1),
// then thawed to drain. No request fails through nginx: connects to the
// frozen port wait in its socket's queue for the new process, and the
// requests the frozen process held are answered once it is thawed.
func TestFrozenInstanceBehindNginxIsReplacedAndNothingFails(t *testing.T) {
	d := newDeployment(t)
	ports := testnet.FreePorts(t, 4)
	d.write("config.yaml", fmt.Sprintf(`ports: %s
command: [%q, serve, --port, "{port}", --message, "Hello v1"]
metrics:
  address: 127.0.0.1:0
liveness:
  http: /
  interval: 500ms
  timeout: 400ms
  failures: 3
`, portsYAML(ports), hellomgrBin))
	if out := d.mustRun("check"); !strings.Contains(out, "liveness: GET / every 500ms") || strings.Contains(out, "warning:") {
		t.Errorf("check:\n%s\nwant the liveness line and no warning", out)
	}
	d.mustRun("up", "-d")
	httpPart, location := d.printedNginx()
	ngx := startNginx(t, httpPart, location)
	before := d.pids()
	victim := ports[2]

	load := startLoad(fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port), 16, 1<<30, true)
	testnet.WaitFor(t, "some load before the freeze", 30*time.Second, func() bool { return load.count() > 2000 })
	frozen := time.Now()
	syscall.Kill(before[victim], syscall.SIGSTOP)
	var replaced time.Time
	testnet.WaitFor(t, "the frozen instance to be replaced", 30*time.Second, func() bool {
		pid := d.pids()[victim]
		replaced = time.Now()
		return pid != 0 && pid != before[victim]
	})
	served := load.count()
	testnet.WaitFor(t, "some load after the replacement", 30*time.Second, func() bool { return load.count() > served+2000 })
	results := load.finish()
	t.Logf("SIGSTOP at %s", frozen.UTC().Format("15:04:05.000"))
	t.Logf("port %d: status showed a new pid %s after SIGSTOP (liveness every 500ms, 3 failures)", victim, replaced.Sub(frozen).Round(time.Millisecond))
	log, _ := os.ReadFile(filepath.Join(d.dir, ".hellomgr", "hellomgr.log"))
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "liveness") {
			t.Log(line)
		}
	}
	t.Logf("nginx error log:\n%s", readFile(ngx.Prefix+"/error.log"))

	after := d.pids()
	for port, pid := range before {
		if port != victim && after[port] != pid {
			t.Errorf("port %d: pid %d -> %d, want it untouched", port, pid, after[port])
		}
	}
	// The replacement counts once it is done: the frozen process, thawed,
	// drains first.
	counted := regexp.MustCompile(`"liveness":\s*1\b`)
	testnet.WaitFor(t, "status to count a restart for liveness", 20*time.Second, func() bool {
		return counted.MatchString(d.mustRun("status", "--json"))
	})
	// POST on / is 405 from the built-in server: an answer, never a 502.
	checkLoad(t, results, replaced, map[string]answer{"GET": {200, "Hello v1"}, "POST": {405, ""}})
}
