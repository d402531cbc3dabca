package instance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hellomgr/hellomgr/cgroup"
)

// newTree returns a cgroup tree of the test's own, on the machine's real
// cgroup2 mount (these tests need one, writable: they run as root).
func newTree(t *testing.T) *cgroup.Tree {
	t.Helper()
	tree, err := cgroup.Open(cgroup.Key(t.TempDir()))
	if err != nil {
		t.Fatalf("cgroup tree: %v", err)
	}
	return tree
}

// grandchildren returns the pids the child printed as "grandchild N".
func grandchildren(t *testing.T, inst *Instance) []int {
	t.Helper()
	var pids []int
	// The line may still be on its way through the output pipe when the
	// instance is ready: wait for it.
	waitFor(t, "the child to print its grandchild's pid", func() bool {
		pids = pids[:0]
		for _, line := range strings.Split(inst.Output(), "\n") {
			if n, ok := strings.CutPrefix(strings.TrimSpace(line), "grandchild "); ok {
				if pid, err := strconv.Atoi(n); err == nil {
					pids = append(pids, pid)
				}
			}
		}
		return len(pids) > 0
	})
	return pids
}

// exited reports whether pid has exited, reaped or not.
func exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}

// checkGone fails unless every pid has exited already, and waits until
// each is reaped too (/proc/PID gone).
func checkGone(t *testing.T, when string, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		if !exited(pid) {
			t.Errorf("%s: pid %d still running", when, pid)
		}
	}
	waitFor(t, "every pid to be reaped", func() bool {
		for _, pid := range pids {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !errors.Is(err, os.ErrNotExist) {
				return false
			}
		}
		return true
	})
}

func TestInstancesAreSessionLeadersInCgroupsOfTheirOwn(t *testing.T) {
	tree := newTree(t)
	self, err := cgroup.Dir(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{self: "the test process"}
	var insts []*Instance
	var dirs []string
	for range 2 {
		spec := newSpec(t, "serve")
		spec.Cgroup = tree
		inst := New(spec, nil)
		startOrFail(t, inst, GiveUp)
		insts = append(insts, inst)
		pid := inst.Status().PID
		if sid, err := unix.Getsid(pid); err != nil || sid != pid {
			t.Errorf("port %d: pid %d is in session %d (%v), want its own", spec.Port, pid, sid, err)
		}
		dir, err := cgroup.Dir(pid)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(dir) != tree.Dir() {
			t.Errorf("port %d: cgroup %s, want one in %s", spec.Port, dir, tree.Dir())
		}
		if other, ok := seen[dir]; ok {
			t.Errorf("port %d: pid %d shares cgroup %s with %s", spec.Port, pid, dir, other)
		}
		seen[dir] = "pid " + strconv.Itoa(pid)
		dirs = append(dirs, dir)
	}
	for _, inst := range insts {
		inst.Stop(context.Background())
	}
	for _, dir := range append(dirs, tree.Dir()) {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived stop: %v", dir, err)
		}
	}
}

func TestStopEndsAGrandchildThatEscapedIntoASessionOfItsOwn(t *testing.T) {
	spec := newSpec(t, "escape-session")
	spec.Cgroup = newTree(t)
	inst := New(spec, nil)
	startOrFail(t, inst, GiveUp)
	pids := append(grandchildren(t, inst), inst.Status().PID)
	if err := inst.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkGone(t, "after stop", pids...)
}

// An app behind `sh -c` whose own child leaves the shell's session, and
// holds the port (it serves on the inherited socket).
func TestStopEndsWhatAShellStartedInASessionOfItsOwn(t *testing.T) {
	spec := newSpec(t, "serve")
	spec.Argv = []string{"/bin/sh", "-c", `setsid "$0" -test.run='^$' & echo grandchild $!; wait`, os.Args[0]}
	spec.Cgroup = newTree(t)
	inst := New(spec, nil)
	startOrFail(t, inst, GiveUp)
	app := grandchildren(t, inst)[0]
	if got, want := get(t, spec.Port), "pid "+strconv.Itoa(app); !strings.HasPrefix(got, want) {
		t.Fatalf("port %d: got %q, want %q (the shell's child)", spec.Port, got, want)
	}
	shell := inst.Status().PID
	if err := inst.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkGone(t, "after stop", shell, app)
}

// A crash is handled (and the instance restarted) only once what the
// crashed process started is gone: the restart never finds its port held
// by its own orphan.
func TestCrashEndsWhatTheProcessLeftBeforeTheRestart(t *testing.T) {
	spec := newSpec(t, "escape-session")
	spec.Cgroup = newTree(t)
	inst := New(spec, nil)
	startOrFail(t, inst, GiveUp)
	old := inst.Status().PID
	orphan := grandchildren(t, inst)[0]
	oldDir, err := cgroup.Dir(old)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(old, syscall.SIGKILL)
	waitFor(t, "a new ready process", func() bool {
		st := inst.Status()
		return st.State == Ready && st.PID != old
	})
	checkGone(t, "when the restarted process was ready", old, orphan)
	if _, err := os.Stat(oldDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the crashed process's cgroup %s survived: %v", oldDir, err)
	}
}

// Without cgroups: what stays in the session is ended with the instance;
// what leaves it is adopted by the manager (here the test process) and
// ended once no instance is left. This makes the test process a child
// subreaper for the tests that follow, which must not mind.
func TestWithoutCgroupsTheSessionAndAdoptedOrphansAreEnded(t *testing.T) {
	if err := AdoptOrphans(); err != nil {
		t.Fatal(err)
	}
	group := New(newSpec(t, "leave-group"), nil) // its grandchild stays in its session
	startOrFail(t, group, GiveUp)
	session := New(newSpec(t, "escape-session"), nil)
	startOrFail(t, session, GiveUp)

	old, inSession := group.Status().PID, grandchildren(t, group)[0]
	syscall.Kill(old, syscall.SIGKILL)
	waitFor(t, "a new ready process", func() bool {
		st := group.Status()
		return st.State == Ready && st.PID != old
	})
	checkGone(t, "when the restarted process was ready", old, inSession)

	escaped := grandchildren(t, session)[0]
	session.Stop(context.Background())
	if exited(escaped) {
		t.Fatalf("pid %d, adopted, was ended while another instance ran: it cannot be told apart", escaped)
	}
	group.Stop(context.Background())
	waitFor(t, "the adopted orphan to be ended and reaped", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", escaped))
		return errors.Is(err, os.ErrNotExist)
	})
}
