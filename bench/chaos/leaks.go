package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// procInfo is what /proc says of one process.
type procInfo struct {
	pid, ppid, sid int
	comm, state    string
	env            []string
	cgroup         string
}

// readProc reads /proc/PID's stat, environ and cgroup; false when the
// process is gone.
func readProc(pid int) (procInfo, bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	// pid (comm) state ppid pgrp session ...: comm may hold spaces.
	open, close := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || close < open {
		return procInfo{}, false
	}
	f := strings.Fields(string(stat[close+1:]))
	if len(f) < 4 {
		return procInfo{}, false
	}
	p := procInfo{pid: pid, comm: string(stat[open+1 : close]), state: f[0]}
	p.ppid, _ = strconv.Atoi(f[1])
	p.sid, _ = strconv.Atoi(f[3])
	env, _ := os.ReadFile(dir + "/environ")
	for _, kv := range bytes.Split(env, []byte{0}) {
		if len(kv) > 0 {
			p.env = append(p.env, string(kv))
		}
	}
	cg, _ := os.ReadFile(dir + "/cgroup")
	p.cgroup = strings.TrimSpace(string(cg))
	return p, true
}

func (p procInfo) hasEnv(prefix string) bool {
	for _, kv := range p.env {
		if strings.HasPrefix(kv, prefix) {
			return true
		}
	}
	return false
}

// allProcs lists every process but this one.
func allProcs() []procInfo {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	var ps []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if p, ok := readProc(pid); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// tied reports why p belongs to the run: the run's token in its
// environment (a manager, an instance, a hook and whatever they started
// inherit it), a session that an instance the run saw leads, or a cgroup
// of one of the run's managers; "" when it does not.
func (r *run) tied(p procInfo) string {
	switch {
	case p.hasEnv(tokenVar + "=" + r.token):
		return "the run's environment"
	case r.inSession(p):
		return fmt.Sprintf("the session of instance pid %d", p.sid)
	}
	for cg := range r.cgroups {
		if strings.Contains(p.cgroup, cg) {
			return "cgroup " + cg
		}
	}
	return ""
}

// leftovers lists the processes tied to the run, one line each.
func (r *run) leftovers() ([]string, []benchkit.Process) {
	var lines []string
	var ps []benchkit.Process
	for _, p := range allProcs() {
		why := r.tied(p)
		if why == "" {
			continue
		}
		lines = append(lines, fmt.Sprintf("pid %d (%s, state %s, parent %d): %s", p.pid, p.comm, p.state, p.ppid, why))
		if bp, ok := benchkit.Find(p.pid); ok {
			ps = append(ps, bp)
		}
	}
	return lines, ps
}

// killLeftovers ends, by pid, what is still tied to the run.
func (r *run) killLeftovers() {
	for range 3 {
		_, ps := r.leftovers()
		if len(ps) == 0 {
			return
		}
		benchkit.StopAll(ps, syscall.SIGKILL, 2*time.Second)
	}
}

// learn notes what ties an instance to the run: its session (each
// instance leads one) and its manager's cgroup folder
// (hellomgr-<hash>-<manager pid>).
func (r *run) learn(pid int) {
	p, ok := readProc(pid)
	if !ok {
		return
	}
	if st, ok := benchkit.Find(pid); ok && p.sid == pid {
		if _, seen := r.sessions[pid]; !seen {
			r.sessions[pid] = st.Start
		}
	}
	for _, part := range strings.Split(p.cgroup, "/") {
		if strings.HasPrefix(part, "hellomgr-") {
			r.cgroups[part] = true
		}
	}
}

// inSession reports whether p is in the session an instance the run saw
// led, and not in a later session of the same number: a pid is reused,
// and another program's process may lead a session of that number since.
func (r *run) inSession(p procInfo) bool {
	began, ok := r.sessions[p.sid]
	if !ok {
		return false
	}
	self, ok := benchkit.Find(p.pid)
	if !ok || self.Start.Before(began) {
		return false
	}
	if leader, ok := benchkit.Find(p.sid); ok && !leader.Start.Equal(began) {
		return self.Start.Before(leader.Start) // from before the new session began
	}
	return true
}

// hookChildren lists the children of the hooks the manager runs now:
// a hook is a child of the manager with the hook's REASON in its
// environment (instances have none).
func hookChildren(managerPID int) []int {
	if managerPID == 0 {
		return nil
	}
	var kids []int
	for _, hook := range benchkit.Children(managerPID) {
		p, ok := readProc(hook)
		if !ok || !p.hasEnv("REASON=") {
			continue
		}
		kids = append(kids, benchkit.Children(hook)...)
	}
	return kids
}
