package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// zombieChildren lists the children of pid that have exited and that
// nobody reaped (<defunct> in ps).
func zombieChildren(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// A hook running when `hellomgr upgrade` replaces the program is ended,
// with what it started, before the exec: it was killed by the exec and
// left <defunct> under the new program, and its children ran on.
func TestUpgradeEndsARunningHookFirst(t *testing.T) {
	e := newEnv(t, 1, "")
	e.writeConfig(builtIn("v1") + fmt.Sprintf("hooks:\n  on_restart: [%q]\n  timeout: 300s\n", e.hookScript("exec sleep 300")))
	e.mustRun("up", "-d")
	e.kill9Ready()
	testnet.WaitFor(t, "the hook to start its children", 20*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(e.dir, "hook-pids"))
		return strings.Count(string(b), "\n") == 2
	})
	pids := e.hookPIDs()
	testnet.WaitFor(t, "the instance to be ready again", 20*time.Second, func() bool {
		return e.statuses()[e.ports[0]].State == "ready"
	})
	manager := e.managerPID()
	if out, errOut, code := e.runWith(e.newBinary("hellomgr-new"), "upgrade"); code != 0 {
		t.Fatalf("upgrade: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	testnet.WaitFor(t, "the upgraded manager to answer", 20*time.Second, func() bool {
		_, _, code := e.run("status")
		return code == 0
	})
	for _, pid := range pids {
		if !dead(pid) {
			t.Errorf("pid %d, started by a hook, still runs after the upgrade", pid)
		}
	}
	if z := zombieChildren(manager); len(z) > 0 {
		t.Errorf("the upgraded manager (pid %d) has unreaped children %v", manager, z)
	}
	b, _ := os.ReadFile(filepath.Join(e.dir, ".hellomgr", "hellomgr.log"))
	if !strings.Contains(string(b), "hook ended before it finished, as the manager stops or replaces its program, with 2 processes it started") {
		t.Errorf("the log does not say the hook was ended:\n%s", b)
	}
}
