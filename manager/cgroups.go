package manager

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/cgroup"
	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/instance"
)

// Where instances run, so that nothing they start outlives them: each
// process in a cgroup of its own under the manager's tree (package
// cgroup), or, where there is no writable cgroup v2, in its own session
// with the manager adopting orphans (instance.AdoptOrphans).

// cgroupRecord is the file in the state folder that names the manager's
// tree, for the next manager of the config to find it wherever it was.
func cgroupRecord(stateDir string) string { return filepath.Join(stateDir, "cgroup") }

// contain runs in prepare, under the config's lock, after the folder
// checks and before any port is bound: it ends what a killed manager of the same config left in
// its cgroups (so their ports are free again), saying so in one line per
// such manager, then records this manager's tree, or, without cgroups,
// makes the manager adopt orphaned descendants. Nothing here stops `up`:
// a port still held after it is refused by bindAll, with its holder named.
func (m *Manager) contain(cfg *config.Config) {
	key := cgroup.Key(cfg.StateDir)
	var recorded []string
	if b, err := os.ReadFile(cgroupRecord(cfg.StateDir)); err == nil {
		recorded = strings.Fields(string(b))
	}
	stale, err := cgroup.FindStale(key, recorded...)
	if err != nil {
		m.log.Warn("looking for processes left by a previous manager", "err", err)
	}
	for _, s := range stale {
		n, err := s.End(cgroup.KillWait)
		switch {
		case err != nil:
			m.log.Warn(fmt.Sprintf("could not end every process left by a previous manager (pid %d) in cgroup %s", s.PID, s.Dir), "err", err)
		case n > 0:
			what := fmt.Sprintf("%d processes", n)
			if n == 1 {
				what = "1 process"
			}
			m.log.Info(fmt.Sprintf("ended %s left by a previous manager (pid %d) in cgroup %s", what, s.PID, s.Dir))
		}
	}
	cgroup.PruneEmpty() // and the empty ones of any config whose manager was killed
	if err := m.openCgroups(cfg); err != nil {
		m.log.Warn("instances run without cgroups: a process that leaves its instance's session is ended only once no instance is left, and survives a manager killed with SIGKILL; under systemd, set Delegate=yes", "err", err)
		return
	}
	if err := writeRecord(cgroupRecord(cfg.StateDir), m.cgroups.Dir()+"\n"); err != nil {
		m.log.Warn("a manager killed with SIGKILL may leave processes the next one will not find", "err", err)
	}
}

// openCgroups decides, once for the manager's life, where its instances
// run: in cgroups under m.cgroups, or, where it cannot have them (it
// returns why), in their sessions with the manager adopting orphans.
func (m *Manager) openCgroups(cfg *config.Config) error {
	tree, err := cgroup.Open(cgroup.Key(cfg.StateDir))
	if err != nil {
		if err := instance.AdoptOrphans(); err != nil {
			m.log.Warn("orphans of instances go to init", "err", err)
		}
		return err
	}
	m.cgroups = tree
	return nil
}

// writeRecord writes s to path, never through a symbolic link.
func writeRecord(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("record the cgroup: %w", err)
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// releaseCgroups removes the manager's cgroup tree once every instance has
// stopped. Each instance's group goes as its process is reaped, and the
// last one takes the tree with it; but the kernel may still be tearing a
// just-removed group down when the tree's removal is asked, and refuse it
// for a moment (EBUSY). So it tries again, for up to a second.
func (m *Manager) releaseCgroups() {
	tree := m.cgroups
	if tree == nil {
		return
	}
	for deadline := time.Now().Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
		err := os.Remove(tree.Dir())
		if err == nil || errors.Is(err, fs.ErrNotExist) || time.Now().After(deadline) {
			return
		}
	}
}
