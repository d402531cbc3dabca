package cmd

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/hellomgr/hellomgr/internal/testnet"
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

// check says how a rollout swaps each port, warns (one line, with the
// change that fixes it) where a client of nginx can see a failed request,
// and is silent where none can; up and reload say the same.
func TestCheckWarnsWhereARolloutCanFailARequest(t *testing.T) {
	nginxSection := "nginx:\n  upstream_file: upstream.conf\n  reload_command: [/bin/true]\n"
	tests := []struct {
		name, config, swap, warning string
	}{
		{"built-in", "", "swap: handoff + READY=1:", ""},
		{"built-in spelled out", fmt.Sprintf("command: [%q, serve, --message, v2]\n", os.Args[0]), "swap: handoff + READY=1:", ""},
		{"built-in without handoff", "reload:\n  handoff: none\n", "swap: stop-then-start:", "to fix, remove reload.handoff: none"},
		{"any command", testChild("serve"), "swap: stop-then-start:", "POSTs the old process holds when it is stopped fail with 502"},
		{"command with handoff", testChild("serve") + "reload:\n  handoff: socket\n", "swap: handoff alone:", "set ready.notify: true"},
		{"command with handoff and READY=1", testChild("serve") + "reload:\n  handoff: socket\nready:\n  notify: true\n", "swap: handoff + READY=1:", ""},
		{"command with an nginx section", testChild("serve") + nginxSection, "swap: nginx drain:", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, tc.config)
			out, errOut, code := e.run("check")
			if code != 0 {
				t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
			}
			checkSwapLines(t, "check", out, tc.swap, tc.warning)
			if tc.warning == "" {
				return
			}
			_, upErr, code := e.run("up", "-d")
			if code != 0 {
				t.Fatalf("up -d: exit %d\n%s", code, upErr)
			}
			checkSwapLines(t, "up", upErr, tc.swap, tc.warning)
			reloadOut, reloadErr, _ := e.run("reload")
			checkSwapLines(t, "reload", reloadOut, tc.swap, tc.warning)
			if reloadErr != "" {
				t.Errorf("reload: %s", reloadErr)
			}
		})
	}
}

// checkSwapLines wants one "swap:" line starting as swap and, when warning
// is set, one "warning:" line holding it; none otherwise.
func checkSwapLines(t *testing.T, cmd, out, swap, warning string) {
	t.Helper()
	var swaps, warnings []string
	for line := range strings.Lines(out) {
		switch {
		case strings.HasPrefix(line, "swap: "):
			swaps = append(swaps, line)
		case strings.HasPrefix(line, "warning: "):
			warnings = append(warnings, line)
		}
	}
	if len(swaps) != 1 || !strings.HasPrefix(swaps[0], swap) {
		t.Errorf("%s: swap lines %q, want one starting %q", cmd, swaps, swap)
	}
	switch {
	case warning == "" && len(warnings) > 0:
		t.Errorf("%s: warned %q where no request can fail", cmd, warnings)
	case warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], warning)):
		t.Errorf("%s: warnings %q, want one holding %q", cmd, warnings, warning)
	}
}
