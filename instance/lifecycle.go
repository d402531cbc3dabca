package instance

// What the runner does as each process of an instance begins and ends,
// besides its state: the count of processes on a shared socket, the held
// /proc stat file, the memory limit, the restart hook.

import "github.com/hellomgr/hellomgr/proc"

// started is called on the runner's goroutine once a process has been
// spawned: it counts the process among those of its shared socket, holds
// its /proc/PID/stat open for status and the metrics (proc.Hold), and
// puts the memory limit on its cgroup where the kernel can enforce it.
func (r *runner) started(p Process) {
	sharers.add(r.i.spec.Listener, 1)
	r.releaseStat = proc.Hold(p.PID())
	if r.i.spec.MemoryLimit > 0 {
		limitCgroupMemory(groupOf(p), r.i.spec.MemoryLimit, r.i.log)
	}
}

// ended is called on the runner's goroutine when the process with pid
// (0: one that never started) has exited.
func (r *runner) ended(pid int) {
	r.unwatch()
	if r.releaseStat != nil {
		r.releaseStat()
		r.releaseStat = nil
	}
	if pid > 0 {
		sharers.add(r.i.spec.Listener, -1)
	}
}

// restarting tells Spec.OnRestart that the instance is restarted after
// the process pid exited unasked (reason: exited, crashed, killed,
// not-ready).
func (r *runner) restarting(pid int, reason string) {
	if r.i.spec.OnRestart != nil {
		r.i.spec.OnRestart(r.i, pid, reason)
	}
}
