package cmd

import (
	"strconv"
	"strings"
	"testing"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

func TestRestartReplacesOnlyTheNamedPort(t *testing.T) {
	e := newEnv(t, 3, builtIn("v1"))
	e.mustRun("up", "-d")
	before := e.pids()
	target := e.ports[1]
	out := e.mustRun("restart", strconv.Itoa(target))
	after := e.pids()
	for _, port := range e.ports {
		changed := after[port] != before[port]
		if changed != (port == target) {
			t.Errorf("port %d: pid %d -> %d after restart %d", port, before[port], after[port], target)
		}
	}
	if !strings.Contains(out, "ready in") {
		t.Errorf("restart printed %q, want a ready line", out)
	}
	if _, err := testnet.Get(target); err != nil {
		t.Errorf("port %d after restart: %v", target, err)
	}
}

func TestStopKeepsAPortStoppedAcrossReloadUntilStart(t *testing.T) {
	e := newEnv(t, 2, builtIn("v1"))
	e.mustRun("up", "-d")
	held, other := e.ports[0], e.ports[1]
	e.mustRun("stop", strconv.Itoa(held))
	if st := e.statuses()[held]; st.State != "stopped" || st.PID != 0 {
		t.Fatalf("port %d after stop: %+v, want stopped with no pid", held, st)
	}
	if testnet.PortOpen(held) {
		t.Fatalf("port %d still accepts connections after stop", held)
	}
	e.writeConfig(builtIn("v2"))
	out := e.mustRun("reload")
	if !strings.Contains(out, "left stopped") {
		t.Errorf("reload output %q does not say port %d was left stopped", out, held)
	}
	if testnet.PortOpen(held) {
		t.Fatalf("port %d was started by reload, want it kept stopped", held)
	}
	if body, _ := testnet.Get(other); body != "v2" {
		t.Errorf("port %d after reload: %q, want v2", other, body)
	}
	e.mustRun("start", strconv.Itoa(held))
	if body, err := testnet.Get(held); err != nil || body != "v2" {
		t.Errorf("port %d after start: %q, %v; want v2 (the reloaded config)", held, body, err)
	}
}

func TestUnknownPortIsAUsageErrorListingThePorts(t *testing.T) {
	e := newEnv(t, 2, "")
	for _, cmd := range []string{"restart", "stop", "start"} {
		_, errOut, code := e.run(cmd, "1")
		want := "configured: " + strconv.Itoa(min(e.ports[0], e.ports[1]))
		if code != 2 || !strings.Contains(errOut, "port 1 is not in") || !strings.Contains(errOut, want) {
			t.Errorf("%s 1: exit %d, stderr %q; want exit 2 listing the configured ports", cmd, code, errOut)
		}
	}
}
