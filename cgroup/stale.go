package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Stale is a tree an earlier manager of the same config left behind: it
// was killed (SIGKILL, a crash) before it could end its instances, and
// whatever they started may still run there, holding their ports.
type Stale struct {
	Dir string // the tree's directory
	PID int    // the manager that made it (it has exited)
}

// FindStale returns the trees named for key in the calling process's
// cgroup, and those among dirs that exist, are named for key and are on a
// cgroup2 file system (trees an earlier manager recorded, in case it ran
// in another cgroup, from another login session say).
//
// Every tree of key that exists counts, the caller's own included (it may
// have been given an earlier manager's pid): call FindStale before making
// the first Group for key, and only while no other manager of the same
// config can run (under its lock).
func FindStale(key string, dirs ...string) ([]Stale, error) {
	var found []Stale
	seen := map[string]bool{}
	add := func(dir string) {
		pid, ok := treePID(key, filepath.Base(dir))
		if !ok || seen[dir] || !isCgroup2(dir) {
			return
		}
		seen[dir] = true
		found = append(found, Stale{Dir: dir, PID: pid})
	}
	var errs []error
	if parent, err := Dir(os.Getpid()); err == nil {
		entries, err := os.ReadDir(parent)
		if err != nil {
			errs = append(errs, fmt.Errorf("look for stale cgroups: %w", err))
		}
		for _, e := range entries {
			if e.IsDir() {
				add(filepath.Join(parent, e.Name()))
			}
		}
	} else if !errors.Is(err, ErrUnavailable) {
		errs = append(errs, err)
	}
	for _, dir := range dirs {
		add(filepath.Clean(dir))
	}
	return found, errors.Join(errs...)
}

// End ends every process in the tree, waits up to timeout until they have
// exited, and removes the tree. It returns how many processes it found.
func (s Stale) End(timeout time.Duration) (int, error) { return end(s.Dir, timeout) }

// PruneEmpty removes from the calling process's cgroup the trees, of any
// config, whose manager has exited and that hold no process and have not
// changed for a while (pruneAfter): what a manager killed with SIGKILL
// leaves once every process of its instances died with it, for a config
// nobody starts again. A tree that still holds a process is left to the
// next manager of its own config (FindStale). It returns how many trees it
// removed.
func PruneEmpty() int {
	parent, err := Dir(os.Getpid())
	if err != nil {
		return 0
	}
	entries, _ := os.ReadDir(parent)
	removed := 0
	for _, e := range entries {
		key, _, _ := strings.Cut(strings.TrimPrefix(e.Name(), prefix), "-")
		pid, ok := treePID(key, e.Name())
		if !ok || !e.IsDir() || len(key) != 12 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // not a tree, or its manager may still run
		}
		if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < pruneAfter {
			continue // just made, maybe, by a manager whose pid we cannot see
		}
		dir := filepath.Join(parent, e.Name())
		// removeTree fails on a cgroup that holds a process (EBUSY), so a
		// process entering meanwhile is safe.
		if ps, err := pids(dir); err == nil && len(ps) == 0 && removeTree(dir) == nil {
			removed++
		}
	}
	return removed
}

// pruneAfter is how long a tree must have stayed unchanged (no group made
// or removed in it) before PruneEmpty removes it. A manager in another pid
// namespace, whose pid looks exited from here, may have just made it.
var pruneAfter = time.Minute

// treePID returns the manager pid in a tree's name, if the name is one of
// key's trees.
func treePID(key, name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefix+key+"-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(rest)
	return pid, err == nil && pid > 0
}

func isCgroup2(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	fi, err := os.Stat(dir)
	return err == nil && fi.Mode().Type() == fs.ModeDir && st.Type == unix.CGROUP2_SUPER_MAGIC
}
