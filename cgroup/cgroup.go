// Package cgroup gives each process hellomgr starts a cgroup v2 of its own,
// so that whatever the process starts (the app behind an `sh -c`, a helper
// that forks and calls setsid) is found and ended with it, as systemd does
// for the processes of a service.
//
// # Layout
//
// One manager's cgroups live in one directory, a child of the manager's own
// cgroup:
//
//	<manager's cgroup>/hellomgr-<key>-<manager pid>/instance-<port>-<n>
//
// key (Key) is a hash of the config's state folder: two configs never share
// a tree, and the next manager of the same config finds what an earlier one
// left (FindStale). The manager's pid keeps two managers of one config apart
// (the new one starts while the old one's tree may still exist) and says
// whose processes were left. Each process gets a fresh leaf (n counts
// starts, so an old and a new process of one port can run side by side),
// which it enters at fork through clone3's CLONE_INTO_CGROUP (Group.Enter),
// with no moment outside it; the leaf is killed and removed once the
// process is ended (Group.End), and the tree with its last leaf.
//
// The tree sits under the manager's own cgroup, and the manager stays where
// it is, because that is the one cgroup a manager may write to in every
// setting it runs in: under systemd with Delegate=yes, the unit's cgroup,
// handed to the service's user (systemd still starts ExecReload= processes
// in it, so the manager must not leave it empty and enable controllers
// there); as root in a shell, the session's scope; in a container, the
// root cgroup. Cgroup v2's "no internal processes" rule does not stand in
// the way: it binds only a cgroup that enables controllers for its
// children, and a cgroup holding the manager cannot (the root is exempt).
// The price is that the leaves get no controllers, so no memory.current,
// unless the manager's cgroup is the root; cgroup.procs, cgroup.kill,
// cgroup.events and cpu.stat are always there.
//
// # Stale trees
//
// A manager killed with SIGKILL cannot end its instances' cgroups: its
// instances' main processes die with it (parent-death signal), but what
// they started lives on in their cgroups. The next manager of the same
// config, holding the config's lock and before it binds any port, finds
// the trees named for its key (FindStale: in its own cgroup, and wherever
// the earlier manager recorded its tree) and ends them (Stale.End).
// PruneEmpty removes the empty trees of any config whose manager is gone.
//
// Open says when there is no writable cgroup v2 (ErrUnavailable): the
// caller then does without.
package cgroup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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

// ErrUnavailable means there is no cgroup v2 this process can create
// cgroups in and start processes into.
var ErrUnavailable = errors.New("no writable cgroup v2")

const prefix = "hellomgr-"

// Key names the trees of one config: a hash of its state folder.
func Key(stateDir string) string {
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		abs = stateDir
	}
	sum := sha256.Sum256([]byte(abs))
	return hex.EncodeToString(sum[:6])
}

// Tree is the directory that holds one manager's cgroups. It is created
// with its first Group and removed with its last.
type Tree struct{ dir string }

// Open returns the calling process's tree for key. It creates nothing, but
// checks that the calling process's cgroup is on a cgroup v2 it may write
// to, and that the kernel can start a process into a cgroup (Linux 5.7);
// otherwise the error wraps ErrUnavailable.
func Open(key string) (*Tree, error) {
	if !kernelAtLeast(5, 7) {
		return nil, fmt.Errorf("%w: Linux 5.7 or later is needed to start a process in a cgroup", ErrUnavailable)
	}
	parent, err := Dir(os.Getpid())
	if err != nil {
		return nil, err
	}
	// Creating a child needs the folder; starting a process in it needs
	// cgroup.procs of the common ancestor, the manager's own cgroup.
	for _, p := range []string{parent, filepath.Join(parent, "cgroup.procs")} {
		if err := unix.Access(p, unix.W_OK); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, p, err)
		}
	}
	return &Tree{dir: filepath.Join(parent, fmt.Sprintf("%s%s-%d", prefix, key, os.Getpid()))}, nil
}

// Dir returns the tree's directory (which exists only while it holds a
// group).
func (t *Tree) Dir() string { return t.dir }

// New creates the cgroup name in the tree, and the tree if need be.
func (t *Tree) New(name string) (*Group, error) {
	for try := 0; ; try++ {
		if err := os.Mkdir(t.dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create cgroup %s: %w", t.dir, err)
		}
		dir := filepath.Join(t.dir, name)
		err := os.Mkdir(dir, 0o755)
		if errors.Is(err, fs.ErrNotExist) && try < 3 {
			continue // the tree went with its last group in the meantime
		}
		if err != nil {
			return nil, fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		return &Group{dir: dir}, nil
	}
}

// Existing returns the group name of the tree, which must exist: one that
// this process created before it replaced its program (hellomgr upgrade).
func (t *Tree) Existing(name string) (*Group, error) {
	dir := filepath.Join(t.dir, name)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("cgroup %s: not found: %v", dir, err)
	}
	return &Group{dir: dir}, nil
}

// Group is the cgroup of one process and whatever it starts. Its methods
// are safe to call from several goroutines.
type Group struct{ dir string }

// Dir returns the group's directory in the cgroup file system.
func (g *Group) Dir() string { return g.dir }

// Enter sets attr so that the process it starts is born in g (clone3 with
// CLONE_INTO_CGROUP). Call done once the process has started, or failed
// to.
func (g *Group) Enter(attr *syscall.SysProcAttr) (done func(), err error) {
	fd, err := unix.Open(g.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", g.dir, err)
	}
	attr.UseCgroupFD, attr.CgroupFD = true, fd
	return func() { unix.Close(fd) }, nil
}

// PIDs returns the processes in g.
func (g *Group) PIDs() ([]int, error) { return pids(g.dir) }

// Kill sends SIGKILL to every process in g, and returns without waiting
// for them to exit. A group already removed is not an error.
func (g *Group) Kill() error { return kill(g.dir) }

// KillWait is how long End is usually given for the processes it kills
// with SIGKILL to be gone: they cannot refuse, but a process in
// uninterruptible sleep (a disk, NFS) exits only when that returns.
const KillWait = 5 * time.Second

// End kills every process still in g, waits up to timeout for them to
// exit, and removes g, and the tree too when g was its last group. It
// returns how many processes it found in g. Ending a group that is gone
// returns 0 and no error, so End is safe to call twice.
func (g *Group) End(timeout time.Duration) (int, error) {
	n, err := end(g.dir, timeout)
	if err == nil {
		os.Remove(filepath.Dir(g.dir)) // fails while the tree holds other groups: fine
	}
	return n, err
}

// Dir returns the directory of process pid's cgroup v2 (in the cgroup2
// file system as mounted in the caller's mount namespace). A caller that
// wants an instance's memory or CPU reads the files there.
func Dir(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	var path string
	for line := range strings.Lines(string(b)) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			path = p
		}
	}
	if path == "" {
		return "", fmt.Errorf("%w: pid %d is in no cgroup v2 (cgroup v1 only)", ErrUnavailable, pid)
	}
	return mountedPath(path)
}

// mountedPath turns a cgroup v2 path into a directory: the cgroup2 mount
// whose root holds it, joined with the rest.
func mountedPath(cgroup string) (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+1 >= len(fields) || fields[sep+1] != "cgroup2" {
			continue
		}
		root, mountpoint := unescape(fields[3]), unescape(fields[4])
		rest, ok := strings.CutPrefix(cgroup, root)
		if !ok || (root != "/" && rest != "" && rest[0] != '/') {
			continue
		}
		return filepath.Join(mountpoint, rest), nil
	}
	return "", fmt.Errorf("%w: no cgroup2 mount holds %s (see /proc/self/mountinfo)", ErrUnavailable, cgroup)
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	release := string(bytes.TrimRight(u.Release[:], "\x00"))
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, _ := strconv.Atoi(digits(parts[0]))
	mi, _ := strconv.Atoi(digits(parts[1]))
	return ma > major || ma == major && mi >= minor
}

func digits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
