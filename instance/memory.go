package instance

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/cgroup"
	"github.com/hellomgr/hellomgr/proc"
)

// An instance's memory limit (Spec.MemoryLimit) is kept one of two ways.
//
// By the kernel, where the instance's cgroup can have the memory
// controller (the manager's cgroup enables it for its children: the root
// cgroup, or a unit whose manager does): memory.max of the instance's
// cgroup is set to the limit (and memory.swap.max to 0), the kernel
// reclaims and, past it, kills a process of the cgroup, and the watch
// reports as soon as memory.events counts an oom_kill. (Not on `max`
// events: they count every reclaim at the limit, page cache included,
// which a healthy app may cause.) When the one killed is the main
// process, the instance is restarted as after any crash (reason killed).
//
// Otherwise by sampling, every memorySample: the resident set of every
// process of the instance (in its cgroup, or without one in its session)
// is added up, and the instance is reported once the sum is over the
// limit. Pages shared between those processes count once per process.
const memorySample = time.Second

// limitCgroupMemory sets the limit on g when the kernel can enforce it
// there, enabling the memory controller for the manager's tree of cgroups
// first. It reports whether it did.
func limitCgroupMemory(g *cgroup.Group, limit int64, log *slog.Logger) bool {
	if g == nil {
		return false
	}
	tree := filepath.Dir(g.Dir())
	if !hasWord(filepath.Join(tree, "cgroup.controllers"), "memory") {
		return false
	}
	if !hasWord(filepath.Join(tree, "cgroup.subtree_control"), "memory") {
		if err := os.WriteFile(filepath.Join(tree, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
			log.Warn("limits.memory: cannot enable the memory controller; sampling RSS instead", "cgroup", tree, "err", err)
			return false
		}
	}
	if err := os.WriteFile(filepath.Join(g.Dir(), "memory.max"), []byte(strconv.FormatInt(limit, 10)), 0); err != nil {
		log.Warn("limits.memory: cannot set memory.max; sampling RSS instead", "cgroup", g.Dir(), "err", err)
		return false
	}
	os.WriteFile(filepath.Join(g.Dir(), "memory.swap.max"), []byte("0"), 0) // best effort: no swap to grow into
	return true
}

// memory watches the process's memory until ctx ends, and reports once it
// is over limit.
func (w *watch) memory(ctx context.Context, limit int64) {
	tick := time.NewTicker(memorySample)
	defer tick.Stop()
	g := w.group
	kernel := g != nil && cgroupLimited(g.Dir())
	base := oomKills(g, kernel)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if kernel {
			if n := oomKills(g, true); n > base {
				w.report(ctx, ReasonMemory, fmt.Sprintf("the kernel killed %d process(es) of it at limits.memory %s (memory.events oom_kill)", n-base, bytesText(limit)))
				base = n
			}
			continue
		}
		if rss := w.rss(); rss > limit {
			w.report(ctx, ReasonMemory, fmt.Sprintf("resident memory %s is over limits.memory %s", bytesText(rss), bytesText(limit)))
		}
	}
}

// rss adds up the resident memory of the instance's processes.
func (w *watch) rss() int64 {
	var pids []int
	if g := w.group; g != nil {
		pids, _ = g.PIDs()
	} else {
		forEachProc(func(pid, _, sid int, state byte) {
			if sid == w.pid && state != 'Z' {
				pids = append(pids, pid)
			}
		})
	}
	if len(pids) == 0 {
		pids = []int{w.pid}
	}
	var sum int64
	for _, pid := range pids {
		if st, err := proc.ReadUsage(pid); err == nil {
			sum += st.RSSBytes
		}
	}
	return sum
}

// cgroupLimited reports whether the cgroup at dir has a memory.max set.
func cgroupLimited(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "memory.max"))
	return err == nil && strings.TrimSpace(string(b)) != "max"
}

// oomKills returns the oom_kill count of g's memory.events, 0 when it
// cannot be read.
func oomKills(g *cgroup.Group, kernel bool) uint64 {
	if !kernel {
		return 0
	}
	b, _ := os.ReadFile(filepath.Join(g.Dir(), "memory.events"))
	return eventCount(b, "oom_kill")
}

// eventCount reads the count of name in a flat-keyed cgroup file
// ("name N" per line).
func eventCount(b []byte, name string) uint64 {
	for line := range bytes.Lines(b) {
		k, v, ok := strings.Cut(strings.TrimSpace(string(line)), " ")
		if ok && k == name {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	return 0
}

func hasWord(path, word string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, f := range strings.Fields(string(b)) {
		if f == word {
			return true
		}
	}
	return false
}

// bytesText writes n in MiB, or KiB below one.
func bytesText(n int64) string {
	switch {
	case n < 1<<20:
		return fmt.Sprintf("%d KiB", n>>10)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// MemoryEnforcement says how the memory limit would be kept for the
// instances of a manager started from this process's cgroup, with the
// state folder stateDir: by the kernel (memory.max in each instance's
// cgroup) or by sampling resident memory every second, and why.
func MemoryEnforcement(stateDir string) (kernel bool, how string) {
	sampled := fmt.Sprintf("by sampling RSS every %s", memorySample)
	tree, err := cgroup.Open(cgroup.Key(stateDir))
	if err != nil {
		return false, sampled + " (no writable cgroup v2 for the instances)"
	}
	parent := filepath.Dir(tree.Dir())
	if !hasWord(filepath.Join(parent, "cgroup.subtree_control"), "memory") {
		return false, fmt.Sprintf("%s (no memory controller in hellomgr's cgroup %s)", sampled, parent)
	}
	return true, "by the kernel (memory.max in each instance's cgroup)"
}
