package cmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hellomgr/hellomgr/cgroup"
	"github.com/hellomgr/hellomgr/internal/testnet"
)

// shellApp is a config whose app runs behind `sh -c`: the shell starts the
// server (this binary, serving on PORT) as a child it does not exec, and
// prints that child's pid.
func shellApp() string {
	return fmt.Sprintf("command: [/bin/sh, -c, '%q -test.run=^$ & echo grandchild $!; wait']\nenv:\n  HELLOMGR_TEST_CHILD: serve\n", os.Args[0])
}

// grandchildren returns, per port, the last pid its log names as
// "grandchild N"; the processes are SIGKILLed (by pid) when the test ends,
// should it fail before they are gone.
func (e *env) grandchildren() map[int]int {
	e.t.Helper()
	pids := map[int]int{}
	for _, port := range e.ports {
		b, _ := os.ReadFile(filepath.Join(e.dir, "logs", strconv.Itoa(port)+".log"))
		for line := range strings.Lines(string(b)) {
			if n, ok := strings.CutPrefix(strings.TrimSpace(line), "grandchild "); ok {
				pids[port], _ = strconv.Atoi(n)
			}
		}
		if pids[port] == 0 {
			e.t.Fatalf("port %d: no grandchild pid in its log %q", port, b)
		}
		pid := pids[port]
		e.t.Cleanup(func() {
			if !dead(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		})
	}
	return pids
}

func dead(pid int) bool { return !alive(pid) || zombie(pid) }

// checkDead fails for each pid still running.
func checkDead(t *testing.T, when string, pids map[int]int) {
	t.Helper()
	for port, pid := range pids {
		if !dead(pid) {
			t.Errorf("port %d: pid %d still running %s", port, pid, when)
		}
	}
}

func TestKilledManagerOfAShellAppAndTheNextUpEndsWhatItLeft(t *testing.T) {
	e := newEnv(t, 2, shellApp())
	e.mustRun("up", "-d")
	shells, apps := e.pids(), e.grandchildren()
	manager := e.managerPID()
	syscall.Kill(manager, syscall.SIGKILL)
	waitGone(t, manager)
	// The shells die with the manager (parent-death signal); their
	// children do not, and keep the ports.
	testnet.WaitFor(t, "the shells to die with the manager", 5*time.Second, func() bool {
		for _, pid := range shells {
			if !dead(pid) {
				return false
			}
		}
		return true
	})
	for port, pid := range apps {
		if dead(pid) || !testnet.PortOpen(port) {
			t.Fatalf("port %d: the app (pid %d) did not outlive the killed manager: this test tests nothing", port, pid)
		}
	}

	e.mustRun("up", "-d")
	checkDead(t, "after the next up", apps)
	log, _ := os.ReadFile(filepath.Join(e.dir, ".hellomgr", "hellomgr.log"))
	want := fmt.Sprintf("ended %d processes left by a previous manager (pid %d) in cgroup ", len(apps), manager)
	if n := strings.Count(string(log), "left by a previous manager"); n != 1 || !strings.Contains(string(log), want) {
		t.Errorf("manager log has %d lines about a previous manager, want one saying %q:\n%s", n, want, log)
	}
	for line := range strings.Lines(string(log)) {
		if strings.Contains(line, "left by") {
			t.Log(strings.TrimSpace(line))
		}
	}
	newApps := e.grandchildren()
	for port, pid := range newApps {
		if body, err := testnet.Get(port); err != nil || !strings.HasPrefix(body, "pid "+strconv.Itoa(pid)) {
			t.Errorf("port %d: got %q, %v; want an answer from the new app, pid %d", port, body, err, pid)
		}
	}

	newShells := e.pids()
	tree, manager := e.cgroupTree(), e.managerPID()
	e.mustRun("down")
	waitGone(t, manager) // down returns once the ports are closed: the cgroups go just after
	checkDead(t, "after down", newShells)
	checkDead(t, "after down", newApps)
	if _, err := os.Stat(tree); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the manager's cgroup %s survived down: %v", tree, err)
	}
}

// cgroupTree returns the folder of the running manager's instance
// cgroups, as recorded in the state folder.
func (e *env) cgroupTree() string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, ".hellomgr", "cgroup"))
	if err != nil {
		e.t.Fatalf("no cgroup recorded: %v", err)
	}
	return strings.TrimSpace(string(b))
}

func TestEachInstanceIsASessionLeaderInACgroupOfItsOwn(t *testing.T) {
	e := newEnv(t, 2, "")
	e.mustRun("up", "-d")
	manager, err := cgroup.Dir(e.managerPID())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{manager: "the manager"}
	var dirs []string
	for port, pid := range e.pids() {
		if sid, err := unix.Getsid(pid); err != nil || sid != pid {
			t.Errorf("port %d: pid %d is in session %d (%v), want its own", port, pid, sid, err)
		}
		dir, err := cgroup.Dir(pid)
		if err != nil {
			t.Fatal(err)
		}
		if other, ok := seen[dir]; ok {
			t.Errorf("port %d: pid %d is in cgroup %s, with %s", port, pid, dir, other)
		}
		seen[dir] = "port " + strconv.Itoa(port)
		dirs = append(dirs, dir)
	}
	pid := e.managerPID()
	e.mustRun("down")
	waitGone(t, pid)
	for _, dir := range dirs {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s survived down: %v", dir, err)
		}
	}
}
