package cmd

import (
	"github.com/hellomgr/hellomgr/internal/testnet"
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestCheckShowsWhatAReloadWouldDo(t *testing.T) {
	e := newEnv(t, 3, "")
	e.mustRun("up", "-d")
	before := e.pids()
	kept, dropped := e.ports[:2], e.ports[2]
	added := testnet.FreePorts(t, 1)[0]
	taken, err := net.Listen("tcp", ":"+strconv.Itoa(added))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	e.ports = append(append([]int(nil), kept...), added)
	e.writeConfig("")

	out, errOut, code := e.run("check")
	if code != 1 {
		t.Fatalf("check with a taken added port: exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"add:     " + strconv.Itoa(added), "remove:  " + strconv.Itoa(dropped), "replace: "} {
		if !strings.Contains(out, want) {
			t.Errorf("check output %q does not contain %q", out, want)
		}
	}
	if want := "port " + strconv.Itoa(added) + " is already in use by"; !strings.Contains(errOut, want) {
		t.Errorf("check stderr %q does not contain %q", errOut, want)
	}
	for port, pid := range e.pids() {
		if before[port] != pid {
			t.Errorf("port %d: pid %d -> %d: check changed something", port, before[port], pid)
		}
	}
	taken.Close()
	if _, errOut, code := e.run("check"); code != 0 {
		t.Errorf("check once the port is free: exit %d, want 0\n%s", code, errOut)
	}
}

func TestCheckReportsEveryConfigProblem(t *testing.T) {
	e := newEnv(t, 1, "comand: [x]\nenv: [oops]\n")
	_, errOut, code := e.run("check")
	if code != 1 || !strings.Contains(errOut, `unknown key "comand"`) || !strings.Contains(errOut, "env:") {
		t.Fatalf("check of a broken config: exit %d, stderr %q; want exit 1 with both problems", code, errOut)
	}
}
