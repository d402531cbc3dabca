package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// debRootCache is a clean Debian 12 root kept between runs, outside the
// repository: debootstrap takes half a minute or more, a copy seconds.
// systemd is in it for systemd-analyze and the sysusers and tmpfiles
// tools the package uses; python3-tornado for the Tornado module.
const debRootCache = "/var/cache/hellomgr-test/bookworm-minbase-systemd-tornado"

// debRoot is a copy of the clean root for one test, with /proc mounted,
// that commands run in with chroot.
type debRoot struct {
	t   *testing.T
	dir string
}

// newDebRoot makes the cached root if it is missing, copies it for the
// test and mounts /proc in the copy. When the test ends, every process
// still running in the copy is killed by pid, /proc unmounted, and the
// copy removed (only once nothing is mounted in it).
func newDebRoot(t *testing.T) *debRoot {
	t.Helper()
	if _, err := os.Stat(filepath.Join(debRootCache, "etc", "debian_version")); err != nil {
		makeDebRootCache(t)
	}
	parent, err := os.MkdirTemp("", "hmroot")
	if err != nil {
		t.Fatal(err)
	}
	r := &debRoot{t: t, dir: filepath.Join(parent, "root")}
	if out, err := exec.Command("cp", "-a", "--reflink=auto", debRootCache, r.dir).CombinedOutput(); err != nil {
		os.RemoveAll(parent)
		t.Fatalf("copy the clean root: %v\n%s", err, out)
	}
	if out, err := exec.Command("mount", "-t", "proc", "proc", r.path("/proc")).CombinedOutput(); err != nil {
		os.RemoveAll(parent)
		t.Fatalf("mount /proc in %s: %v\n%s", r.dir, err, out)
	}
	t.Cleanup(func() {
		for _, pid := range r.processes() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(r.processes()) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if out, err := exec.Command("umount", r.path("/proc")).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s (the copy is left in place)", r.path("/proc"), err, out)
			return
		}
		os.RemoveAll(parent)
	})
	return r
}

// makeDebRootCache runs debootstrap into a new folder beside the cache
// and renames it into place once complete, so that an interrupted run
// leaves no half-made root to be used next time.
func makeDebRootCache(t *testing.T) {
	t.Helper()
	tmp := debRootCache + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Dir(debRootCache), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "--include=systemd,python3-tornado", "bookworm", tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		t.Fatalf("debootstrap a clean Debian 12 root into %s: %v\n%s", tmp, err, out)
	}
	if err := os.Rename(tmp, debRootCache); err != nil {
		t.Fatal(err)
	}
}

// path is name inside the root, seen from outside.
func (r *debRoot) path(name string) string { return filepath.Join(r.dir, name) }

// copyIn copies a file into the root's /tmp and returns its path there.
func (r *debRoot) copyIn(file string) string {
	r.t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		r.t.Fatal(err)
	}
	inside := "/tmp/" + filepath.Base(file)
	if err := os.WriteFile(r.path(inside), b, 0o644); err != nil {
		r.t.Fatal(err)
	}
	return inside
}

// command is argv run in the root as user (root when ""), with a clean
// environment and a deadline.
func (r *debRoot) command(ctx context.Context, user string, argv ...string) *exec.Cmd {
	args := []string{}
	if user != "" {
		args = append(args, "--userspec="+user+":"+user)
	}
	args = append(append(args, r.dir), argv...)
	cmd := exec.CommandContext(ctx, "/usr/sbin/chroot", args...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive", "HOME=/root"}
	return cmd
}

func (r *debRoot) runAs(user string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := r.command(ctx, user, argv...).CombinedOutput()
	return string(out), err
}

func (r *debRoot) run(argv ...string) (string, error) { return r.runAs("", argv...) }

func (r *debRoot) mustRunAs(user string, argv ...string) string {
	r.t.Helper()
	out, err := r.runAs(user, argv...)
	if err != nil {
		r.t.Fatalf("in the root, as %q: %v: %v\n%s", user, argv, err, out)
	}
	return out
}

func (r *debRoot) mustRun(argv ...string) string {
	r.t.Helper()
	return r.mustRunAs("", argv...)
}

// mustRunHost runs argv outside the root (rpm --root), with a deadline.
func (r *debRoot) mustRunHost(argv ...string) string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		r.t.Fatalf("%v: %v\n%s", argv, err, out)
	}
	return string(out)
}

// processes lists the pids of the processes whose root is this root.
func (r *debRoot) processes() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if root, err := os.Readlink("/proc/" + e.Name() + "/root"); err == nil && root == r.dir {
			pids = append(pids, pid)
		}
	}
	return pids
}
