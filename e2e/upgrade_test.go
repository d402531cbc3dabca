package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// `hellomgr upgrade` behind a real nginx, under load from keep-alive
// clients (GET and POST): the manager execs a new binary in place, every
// instance keeps its pid and its port, and no request fails. The new
// binary is a copy of the one under test at another path, as a package
// upgrade would install it.
func TestUpgradeBehindNginxFailsNothing(t *testing.T) {
	d := newDeployment(t)
	ports := testnet.FreePorts(t, 4)
	d.write("config.yaml", fmt.Sprintf("ports: %s\nmetrics:\n  address: 127.0.0.1:0\n", portsYAML(ports)))
	d.mustRun("up", "-d")
	httpPart, location := d.printedNginx()
	ngx := startNginx(t, httpPart, location)
	before, manager := d.pids(), d.managerPID()

	next := filepath.Join(t.TempDir(), "hellomgr")
	b, err := os.ReadFile(hellomgrBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(next, b, 0o755); err != nil {
		t.Fatal(err)
	}
	var out string
	results, upgraded := d.underLoad(fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port), true, func() {
		out = d.mustRun("upgrade", "--binary", next)
	})
	t.Logf("upgrade:\n%s", out)
	after := d.pids()
	for port, pid := range before {
		if after[port] != pid {
			t.Errorf("port %d: pid %d -> %d across the upgrade, want the same", port, pid, after[port])
		}
	}
	if got := d.managerPID(); got != manager {
		t.Errorf("manager pid %d -> %d, want the same (exec in place)", manager, got)
	}
	if exe, _ := os.Readlink("/proc/" + strconv.Itoa(manager) + "/exe"); exe != next {
		t.Errorf("the manager runs %q, want the new binary %q", exe, next)
	}
	checkLoad(t, results, upgraded, map[string]answer{"GET": {200, "Hello Itcast!"}, "POST": {405, ""}})
}
