package hooks

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hellomgr/hellomgr/cgroup"
)

// A hook gets the containment of an instance, so that what it starts
// (`sleep 300 &`, a daemon that calls setsid) ends with it: when the
// manager has cgroups, a cgroup of its own, entered at fork and ended,
// with everything in it, once the hook has exited or is killed; without,
// its own process group, ended once the hook has exited, and, when the
// hook is killed (its timeout, EndAll), every descendant it has then,
// whatever its group or session: they are stopped (SIGSTOP, so none forks
// meanwhile) until no new one appears, then killed.
//
// Without a cgroup, a daemon that left the hook's group and whose parent
// exited before the hook's end is found by the subreaper sweep: the
// manager adopts orphans then (instance.AdoptOrphans), so such a daemon
// becomes its child, and each command of a hook carries a mark in its
// environment (HELLOMGR_HOOK=...) that its descendants inherit. Once the
// hook has exited, the manager's children that carry the mark are ended
// with their descendants. What the sweep cannot reach: a daemon that
// cleared its environment (env -i); with a cgroup there is no such gap.

// starts numbers the hooks' cgroups.
var starts atomic.Uint64

// jail holds one hook command and what it starts.
type jail struct {
	pid   int
	mark  string        // NAME=VALUE in the hook's environment: sweep
	group *cgroup.Group // nil without cgroups
	left  map[int]bool  // processes besides the hook found and ended
}

// start starts cmd, whose SysProcAttr is set, in a jail: a new cgroup of
// tree named for the hook when tree is set, its own process group either
// way.
func start(cmd *exec.Cmd, tree *cgroup.Tree, c Command, port int) (*jail, error) {
	name := fmt.Sprintf("hook-%d-%s-%d", port, c.Name, starts.Add(1))
	j := &jail{left: map[int]bool{}, mark: fmt.Sprintf("HELLOMGR_HOOK=%d-%s", os.Getpid(), name)}
	cmd.Env = append(cmd.Env, j.mark)
	cmd.SysProcAttr.Setpgid = true
	if tree != nil {
		g, err := tree.New(name)
		if err != nil {
			return nil, err
		}
		entered, err := g.Enter(cmd.SysProcAttr)
		if err != nil {
			g.End(0)
			return nil, err
		}
		defer entered()
		j.group = g
	}
	if err := cmd.Start(); err != nil {
		if j.group != nil {
			j.group.End(0)
		}
		return nil, err
	}
	j.pid = cmd.Process.Pid
	return j, nil
}

// exited is closed once the hook's process has exited, which it leaves
// unreaped (cmd.Wait reaps it), so that its pid, and so its process
// group's id, is not reused while end uses it.
func (j *jail) exited() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, j.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if !errors.Is(err, syscall.EINTR) {
				return
			}
		}
	}()
	return ch
}

// kill kills the hook, still running or not, with what it started.
func (j *jail) kill() {
	if j.group != nil {
		j.note(j.group.PIDs())
		j.group.Kill()
	} else {
		j.freezeTree(j.pid)
	}
	syscall.Kill(-j.pid, syscall.SIGKILL)
	for pid := range j.left {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// freezeTree stops root and each of its descendants and members of its
// group, until no new one appears, noting them (but the hook) and
// returning those it had not noted before.
func (j *jail) freezeTree(root int) []int {
	var fresh []int
	note := func(pid int) {
		if pid != j.pid && !j.left[pid] {
			j.left[pid] = true
			fresh = append(fresh, pid)
		}
	}
	syscall.Kill(root, syscall.SIGSTOP)
	note(root)
	for range 100 {
		was := len(fresh)
		for _, pid := range descendants(root) {
			if pid != j.pid && !j.left[pid] {
				syscall.Kill(pid, syscall.SIGSTOP)
				note(pid)
			}
		}
		if len(fresh) == was {
			break
		}
	}
	return fresh
}

// sweep ends, with their descendants, the children of this process (a
// subreaper) that carry the hook's mark: what the hook left in other
// groups, orphaned.
func (j *jail) sweep() {
	self := os.Getpid()
	for _, p := range procs() {
		if p.ppid == self && p.pid != j.pid && p.state != 'Z' && !j.left[p.pid] && hasEnv(p.pid, j.mark) {
			for _, pid := range j.freezeTree(p.pid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// hasEnv reports whether process pid was started with kv in its
// environment.
func hasEnv(pid int, kv string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for _, v := range bytes.Split(b, []byte{0}) {
		if string(v) == kv {
			return true
		}
	}
	return false
}

// end ends what the hook left once it has exited (unreaped): its cgroup,
// or its process group. It returns how many processes the hook left or
// had when killed.
func (j *jail) end() (int, error) {
	var err error
	if j.group != nil {
		j.note(j.group.PIDs())
		_, err = j.group.End(cgroup.KillWait)
	} else {
		for _, p := range procs() {
			if p.pgrp == j.pid && p.pid != j.pid && p.state != 'Z' {
				j.left[p.pid] = true
			}
		}
		j.sweep()
	}
	syscall.Kill(-j.pid, syscall.SIGKILL) // kill and sweep have killed the rest
	for pid := range j.left {
		// One noted in the group may have left it since (a setsid in
		// flight as the hook exited): it is killed by its pid.
		syscall.Kill(pid, syscall.SIGKILL)
	}
	awaitGone(j.left)
	return len(j.left), err
}

// note adds pids, but the hook's own, to what the hook started.
func (j *jail) note(pids []int, _ error) {
	for _, pid := range pids {
		if pid != j.pid {
			j.left[pid] = true
		}
	}
}

// awaitGone waits, up to cgroup.KillWait, until each of pids, killed, has
// exited, and reaps those that became this process's children (it is a
// subreaper, instance.AdoptOrphans): they are in the manager's session,
// where the reaper of adopted orphans leaves them be, and would stay
// zombies.
func awaitGone(pids map[int]bool) {
	self := os.Getpid()
	deadline := time.Now().Add(cgroup.KillWait)
	for pid := range pids {
		for time.Now().Before(deadline) {
			p, ok := readProc(pid)
			if !ok {
				break
			}
			if p.state == 'Z' {
				if p.ppid == self {
					syscall.Wait4(pid, nil, syscall.WNOHANG, nil)
				}
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// proc is what the hooks need of one /proc/PID/stat.
type proc struct {
	pid, ppid, pgrp int
	state           byte
}

func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	// pid (comm) state ppid pgrp ...; comm may hold anything.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 3 || f[0] == "" {
		return proc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	pgrp, _ := strconv.Atoi(f[2])
	return proc{pid: pid, ppid: ppid, pgrp: pgrp, state: f[0][0]}, true
}

// procs lists every process.
func procs() []proc {
	entries, _ := os.ReadDir("/proc")
	var all []proc
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			if p, ok := readProc(pid); ok {
				all = append(all, p)
			}
		}
	}
	return all
}

// descendants are the live processes below root, and those of its
// process group, root not included.
func descendants(root int) []int {
	all := procs()
	children := map[int][]int{}
	for _, p := range all {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	found := map[int]bool{}
	for _, p := range all {
		if p.pgrp == root && p.pid != root {
			found[p.pid] = true
		}
	}
	for queue := children[root]; len(queue) > 0; queue = queue[1:] {
		found[queue[0]] = true
		queue = append(queue, children[queue[0]]...)
	}
	var out []int
	for pid := range found {
		out = append(out, pid)
	}
	return out
}
