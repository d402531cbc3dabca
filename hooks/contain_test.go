package hooks

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hellomgr/hellomgr/cgroup"
)

// spawns is what the hooks of these tests start besides themselves: a
// child in the background, in the hook's process group, and one that
// leaves it for a session of its own (a daemon); each writes its pid.
const spawns = "sleep 300 &\necho $! > bg.pid\nsetsid sleep 300 &\necho $! > sid.pid\necho ok > started\n"

// containments are the two ways a hook is contained: a cgroup of its
// own, when the manager has cgroups, or its process group and its
// descendants, when not.
func containments() map[string]func(t *testing.T, c *Command) {
	return map[string]func(t *testing.T, c *Command){
		"cgroup": func(t *testing.T, c *Command) {
			tree, err := cgroup.Open(cgroup.Key(c.Dir))
			if err != nil {
				t.Fatalf("this test needs a writable cgroup v2 (CI has one): %v", err)
			}
			c.Cgroup = tree
			t.Cleanup(func() {
				if _, err := os.Stat(tree.Dir()); err == nil {
					t.Errorf("cgroup tree %s left after the hook ended", tree.Dir())
				}
			})
		},
		"group": func(t *testing.T, c *Command) {},
	}
}

// pidIn reads a pid the hook wrote, waiting for it.
func pidIn(t *testing.T, dir, name string) string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if pid := strings.TrimSpace(string(b)); pid != "" {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hook did not write %s", name)
		}
	}
}

// alive reports whether pid runs (a zombie does not).
func alive(pid string) bool {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	return err == nil && !strings.Contains(string(stat), ") Z ")
}

// ended fails the test unless the process the hook wrote to name is
// gone by now: it was ended before the hook's end was logged.
func ended(t *testing.T, dir, name string) {
	t.Helper()
	pid := pidIn(t, dir, name)
	if alive(pid) {
		cleanUp(pid)
		t.Errorf("%s: pid %s outlived the hook", name, pid)
	}
}

// A hook that exits at once, leaving a background child and a daemon in
// a session of its own, is logged as having run, with what it left; and
// what it left is ended. It was "hook did not run", and both lived on.
func TestWhatAHookLeftIsEndedWhenItExits(t *testing.T) {
	for name, contain := range containments() {
		t.Run(name, func(t *testing.T) {
			c, log := command(t, spawns+"exit 0\n", 20*time.Second)
			contain(t, &c)
			if name == "group" {
				// Without cgroups the manager adopts orphans
				// (instance.AdoptOrphans): so does the test, for the
				// daemon whose parent, the hook, exits.
				if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
					t.Fatal(err)
				}
			}
			var q Queue
			q.Run(c, Event{Port: 8001, Reason: "exited"})
			wait(t, &q)
			ended(t, c.Dir, "bg.pid")
			ended(t, c.Dir, "sid.pid")
			got := log.String()
			if strings.Contains(got, "did not run") || !strings.Contains(got, "hook ran") {
				t.Errorf("log does not say the hook ran:\n%s", got)
			}
			if want := "hook ran, and left 2 processes running, which were ended"; !strings.Contains(got, want) {
				t.Errorf("log does not say %q:\n%s", want, got)
			}
		})
	}
}

// A hook still running at its timeout is killed with everything it
// started (its background child, the daemon in its own session, the
// sleep it waits for), and that is logged once.
func TestHookKilledAtItsTimeoutTakesWhatItStarted(t *testing.T) {
	for name, contain := range containments() {
		t.Run(name, func(t *testing.T) {
			c, log := command(t, spawns+"sleep 300\n", 3*time.Second)
			contain(t, &c)
			var q Queue
			q.Run(c, Event{Port: 8001, Reason: "liveness"})
			wait(t, &q)
			ended(t, c.Dir, "bg.pid")
			ended(t, c.Dir, "sid.pid")
			got := log.String()
			if n := strings.Count(got, "hook killed after its timeout of 3s (hooks.timeout), with 3 processes it started"); n != 1 {
				t.Errorf("log has %d lines about the kill, want 1:\n%s", n, got)
			}
		})
	}
}

// EndAll ends the hooks that run, with what they started, starts no
// other until Resume, and Resume runs the latest event that came
// meanwhile.
func TestEndAllEndsRunningHooksUntilResume(t *testing.T) {
	for name, contain := range containments() {
		t.Run(name, func(t *testing.T) {
			c, log := command(t, "echo $REASON >> runs.txt\n[ $REASON = second ] && exit 0\n"+spawns+"sleep 300\n", 300*time.Second)
			contain(t, &c)
			c.Set = &Set{}
			var q Queue
			q.Run(c, Event{Port: 8001, Reason: "first"})
			pidIn(t, c.Dir, "started")
			pidIn(t, c.Dir, "sid.pid")
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if n := c.Set.EndAll(ctx); n != 1 {
				t.Errorf("EndAll ended %d hooks, want 1", n)
			}
			ended(t, c.Dir, "bg.pid")
			ended(t, c.Dir, "sid.pid")
			if got := log.String(); !strings.Contains(got, "hook ended before it finished, as the manager stops or replaces its program, with 3 processes it started") {
				t.Errorf("log does not say the hook was ended:\n%s", got)
			}
			q.Run(c, Event{Port: 8001, Reason: "second"})
			time.Sleep(100 * time.Millisecond)
			if b, _ := os.ReadFile(filepath.Join(c.Dir, "runs.txt")); string(b) != "first\n" {
				t.Errorf("runs while held: %q, want only the first", b)
			}
			c.Set.Resume()
			wait(t, &q)
			if b, _ := os.ReadFile(filepath.Join(c.Dir, "runs.txt")); string(b) != "first\nsecond\n" {
				t.Errorf("runs after Resume: %q, want first then second", b)
			}
		})
	}
}

// cleanUp kills a process a failed test leaves.
func cleanUp(pid string) {
	if n, err := strconv.Atoi(pid); err == nil && n > 1 {
		syscall.Kill(n, syscall.SIGKILL)
	}
}
