package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run against the machine's real cgroup2 mount, in trees of
// their own (a key from a fresh temp folder), and fail where there is none.

func openTree(t *testing.T) (*Tree, string) {
	t.Helper()
	key := Key(t.TempDir())
	tree, err := Open(key)
	if err != nil {
		t.Fatalf("open: %v (these tests need a writable cgroup v2)", err)
	}
	t.Cleanup(func() { end(tree.Dir(), 5*time.Second) })
	return tree, key
}

func newGroup(t *testing.T, tree *Tree, name string) *Group {
	t.Helper()
	g, err := tree.New(name)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// startIn starts argv born in g (g nil: where the test runs) and returns
// the command and the first line it prints.
func startIn(t *testing.T, g *Group, argv ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if g != nil {
		done, err := g.Enter(cmd.SysProcAttr)
		if err != nil {
			t.Fatal(err)
		}
		defer done()
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	return cmd, strings.TrimSpace(line)
}

// dead reports whether pid has exited (a zombie waiting for its parent
// counts as exited).
func dead(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}

func waitDead(t *testing.T, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for !dead(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("pid %d still alive", pid)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

func TestGroupHoldsWhatItsProcessStartsAndEndKillsItAll(t *testing.T) {
	tree, _ := openTree(t)
	g := newGroup(t, tree, "instance-1-1")
	// The process starts a grandchild in a session of its own, out of its
	// process group: no group signal reaches it, the cgroup does.
	main, line := startIn(t, g, "/bin/sh", "-c", `setsid sleep 300 & echo $!; exec sleep 300`)
	grandchild, err := strconv.Atoi(line)
	if err != nil {
		t.Fatalf("grandchild pid: %q", line)
	}
	moved, _ := startIn(t, nil, "/bin/sh", "-c", "echo; exec sleep 300")
	if err := os.WriteFile(filepath.Join(g.Dir(), "cgroup.procs"), []byte(strconv.Itoa(moved.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{main.Process.Pid, grandchild, moved.Process.Pid} {
		if dir, err := Dir(pid); err != nil || dir != g.Dir() {
			t.Errorf("pid %d: cgroup %q, %v; want %s", pid, dir, err, g.Dir())
		}
	}
	got, err := g.PIDs()
	slices.Sort(got)
	want := []int{main.Process.Pid, grandchild, moved.Process.Pid}
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("PIDs: %v, %v; want %v", got, err, want)
	}

	n, err := g.End(5 * time.Second)
	if err != nil || n != 3 {
		t.Fatalf("End: %d, %v; want 3 processes ended", n, err)
	}
	for _, cmd := range []*exec.Cmd{main, moved} {
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("pid %d: %v, want killed", cmd.Process.Pid, err)
		}
	}
	waitDead(t, grandchild)
	if exists(g.Dir()) || exists(tree.Dir()) {
		t.Errorf("after End: %s or %s still exists", g.Dir(), tree.Dir())
	}
	if n, err := g.End(time.Second); n != 0 || err != nil {
		t.Errorf("second End: %d, %v; want 0, nil", n, err)
	}
}

func TestTreeGoesWithItsLastGroup(t *testing.T) {
	tree, _ := openTree(t)
	a, b := newGroup(t, tree, "instance-1-1"), newGroup(t, tree, "instance-1-2")
	if _, err := a.End(time.Second); err != nil {
		t.Fatal(err)
	}
	if !exists(tree.Dir()) || !exists(b.Dir()) {
		t.Fatalf("ending one group removed %s", tree.Dir())
	}
	if _, err := b.End(time.Second); err != nil {
		t.Fatal(err)
	}
	if exists(tree.Dir()) {
		t.Fatalf("%s survived its last group", tree.Dir())
	}
	// A new group brings the tree back.
	c := newGroup(t, tree, "instance-1-3")
	if !exists(c.Dir()) {
		t.Fatalf("%s was not created", c.Dir())
	}
}

func TestKillDoesNotWait(t *testing.T) {
	tree, _ := openTree(t)
	g := newGroup(t, tree, "instance-1-1")
	cmd, _ := startIn(t, g, "/bin/sh", "-c", "echo; exec sleep 300")
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("after Kill: %v, want killed", err)
	}
	if _, err := g.End(time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestFindStaleFindsAndEndsWhatAnEarlierManagerLeft(t *testing.T) {
	_, key := openTree(t)
	parent, err := Dir(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// An earlier manager (pid 4001) of the same config, killed with its
	// instances' processes still running; one more (pid 4002) that ran in
	// another cgroup and recorded where; and trees that are not ours.
	earlier := &Tree{dir: filepath.Join(parent, prefix+key+"-4001")}
	elsewhere := filepath.Join(parent, "hellomgr-test-"+key)
	if err := os.Mkdir(elsewhere, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { end(elsewhere, 5*time.Second) })
	recorded := &Tree{dir: filepath.Join(elsewhere, prefix+key+"-4002")}
	otherKey := &Tree{dir: filepath.Join(parent, prefix+Key(t.TempDir())+"-4003")}
	t.Cleanup(func() { end(otherKey.Dir(), 5*time.Second); end(earlier.Dir(), 5*time.Second) })
	notACgroup := filepath.Join(t.TempDir(), prefix+key+"-4004")
	os.Mkdir(notACgroup, 0o755)

	var pids []int
	for _, tree := range []*Tree{earlier, earlier, recorded, otherKey} {
		g := newGroup(t, tree, "instance-1-"+strconv.Itoa(len(pids)))
		_, line := startIn(t, g, "/bin/sh", "-c", `setsid sleep 300 & echo $!; exec sleep 300`)
		pid, _ := strconv.Atoi(line)
		pids = append(pids, pid)
	}

	stale, err := FindStale(key, recorded.Dir(), notACgroup, otherKey.Dir())
	if err != nil {
		t.Fatal(err)
	}
	want := []Stale{{Dir: earlier.Dir(), PID: 4001}, {Dir: recorded.Dir(), PID: 4002}}
	if !slices.Equal(stale, want) {
		t.Fatalf("FindStale: %+v, want %+v", stale, want)
	}
	for i, s := range stale {
		n, err := s.End(5 * time.Second)
		if wantN := []int{4, 2}[i]; err != nil || n != wantN {
			t.Errorf("%s: ended %d, %v; want %d", s.Dir, n, err, wantN)
		}
		if exists(s.Dir) {
			t.Errorf("%s survived End", s.Dir)
		}
	}
	waitDead(t, pids[:3]...)
	if dead(pids[3]) || !exists(otherKey.Dir()) {
		t.Errorf("another config's tree %s was touched", otherKey.Dir())
	}
}

func TestDirOfAProcessIsOnTheCgroup2Mount(t *testing.T) {
	dir, err := Dir(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !isCgroup2(dir) || !exists(filepath.Join(dir, "cgroup.procs")) {
		t.Fatalf("Dir(self) = %s, not a cgroup2 directory", dir)
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	if got := unescape(`/sys/fs/my\040cgroup\134x`); got != `/sys/fs/my cgroup\x` {
		t.Fatalf("unescape: %q", got)
	}
}

// Before Linux 5.14 there is no cgroup.kill: each process gets SIGKILL.
func TestKillEachWithoutCgroupKill(t *testing.T) {
	tree, _ := openTree(t)
	g := newGroup(t, tree, "instance-1-1")
	main, line := startIn(t, g, "/bin/sh", "-c", `setsid sleep 300 & echo $!; exec sleep 300`)
	grandchild, _ := strconv.Atoi(line)
	if err := killEach(g.Dir()); err != nil {
		t.Fatal(err)
	}
	main.Wait()
	waitDead(t, grandchild)
	if err := waitEmpty(g.Dir(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestPruneEmptyRemovesOnlyEmptyTreesOfExitedManagers(t *testing.T) {
	parent, err := Dir(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	exited := exec.Command("/bin/true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	gone := exited.Process.Pid // a manager that has exited
	tree := func(pid int) *Tree {
		tr := &Tree{dir: filepath.Join(parent, fmt.Sprintf("%s%s-%d", prefix, Key(t.TempDir()), pid))}
		t.Cleanup(func() { end(tr.Dir(), 5*time.Second) })
		return tr
	}
	empty, busy, running := tree(gone), tree(gone), tree(os.Getpid())
	newGroup(t, empty, "instance-1-1")
	newGroup(t, running, "instance-1-2")
	startIn(t, newGroup(t, busy, "instance-1-3"), "/bin/sh", "-c", "echo; exec sleep 300")

	if PruneEmpty(); !exists(empty.Dir()) {
		t.Errorf("%s: removed at once, before it had stayed unchanged for %s", empty.Dir(), pruneAfter)
	}
	defer func(d time.Duration) { pruneAfter = d }(pruneAfter)
	pruneAfter = 0
	PruneEmpty()
	if exists(empty.Dir()) {
		t.Errorf("%s: empty, of an exited manager, but not removed", empty.Dir())
	}
	if !exists(busy.Dir()) {
		t.Errorf("%s: removed, but it held a process", busy.Dir())
	}
	if !exists(running.Dir()) {
		t.Errorf("%s: removed, but its manager runs", running.Dir())
	}
}
