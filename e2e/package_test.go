package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// The packages as an operator uses them: `make package` builds a .deb and
// an .rpm that lintian and rpmlint pass; in a clean Debian root (made by
// debootstrap, cached in debRootCache), each installs (dpkg -i; rpm -i
// from outside, with --nodeps: the root's rpm database knows nothing of
// Debian's packages), the installed unit verifies, `hellomgr up -c
// /etc/hellomgr/config.yaml` serves as the packaged user, a newer package
// installed over the running manager hands it over to the new binary
// (same manager and instance pids, no failed request), and removing it
// leaves no process.
func TestPackageInstallUpgradeRemove(t *testing.T) {
	need(t, "/usr/sbin/debootstrap", "debootstrap")
	need(t, "/usr/sbin/chroot", "coreutils")
	need(t, "/usr/bin/lintian", "lintian")
	need(t, "/usr/bin/rpmlint", "rpmlint")
	need(t, "/usr/bin/rpm", "rpm")
	dist := t.TempDir()
	oldDeb, oldRPM := buildPackage(t, filepath.Join(dist, "1"), "0.1.0+e2e1")
	newDeb, newRPM := buildPackage(t, filepath.Join(dist, "2"), "0.1.0+e2e2")
	lintPackages(t, oldDeb, oldRPM)
	t.Run("deb", func(t *testing.T) { debPackager.exercise(t, oldDeb, newDeb) })
	t.Run("rpm", func(t *testing.T) { rpmPackager.exercise(t, oldRPM, newRPM) })
}

// packager is how one format is installed, upgraded and removed in a
// root, and where its files differ.
type packager struct {
	install, upgrade, remove func(r *debRoot, file string) string
	version                  func(r *debRoot) string
	conffiles                func(r *debRoot) string
	unitDir, zshDir          string
	python                   string           // the PYTHONPATH the Tornado module needs, if any
	purge                    func(r *debRoot) // nil: the format has none
}

var debPackager = packager{
	install: func(r *debRoot, f string) string { return r.mustRun("dpkg", "-i", r.copyIn(f)) },
	upgrade: func(r *debRoot, f string) string { return r.mustRun("dpkg", "-i", r.copyIn(f)) },
	remove:  func(r *debRoot, _ string) string { return r.mustRun("dpkg", "-r", "hellomgr") },
	version: func(r *debRoot) string { return r.mustRun("dpkg-query", "-W", "-f", "${Version}", "hellomgr") },
	conffiles: func(r *debRoot) string {
		return r.mustRun("dpkg-query", "-W", "-f", "${Conffiles}", "hellomgr")
	},
	// No PYTHONPATH: the module is where Debian's python3 looks.
	unitDir: "/lib/systemd/system", zshDir: "/usr/share/zsh/vendor-completions",
	purge: func(r *debRoot) { r.mustRun("dpkg", "--purge", "hellomgr") },
}

var rpmPackager = packager{
	install: func(r *debRoot, f string) string { return r.mustRunHost("rpm", "--root", r.dir, "-i", "--nodeps", f) },
	upgrade: func(r *debRoot, f string) string { return r.mustRunHost("rpm", "--root", r.dir, "-U", "--nodeps", f) },
	remove: func(r *debRoot, _ string) string {
		return r.mustRunHost("rpm", "--root", r.dir, "-e", "--nodeps", "hellomgr")
	},
	version: func(r *debRoot) string {
		return r.mustRunHost("rpm", "--root", r.dir, "-q", "--qf", "%{VERSION}", "hellomgr")
	},
	conffiles: func(r *debRoot) string {
		return r.mustRunHost("rpm", "--root", r.dir, "-q", "--configfiles", "hellomgr")
	},
	unitDir: "/usr/lib/systemd/system", zshDir: "/usr/share/zsh/site-functions", python: "/usr/share/hellomgr/python",
}

// exercise installs oldFile in a new root, runs the manager from it,
// upgrades to newFile under requests and removes the package.
func (pk packager) exercise(t *testing.T, oldFile, newFile string) {
	r := newDebRoot(t)
	pk.install(r, oldFile)
	pk.checkInstalled(r)
	ports := testnet.FreePorts(t, 4)
	r.setPorts(ports, testnet.FreePorts(t, 1)[0])
	r.mustRunAs("hellomgr", "/usr/bin/hellomgr", "up", "-d", "-c", "/etc/hellomgr/config.yaml")
	r.checkServes(ports)

	manager, before := r.managerPID(), r.pids()
	load := hammerDirectly(ports)
	out := pk.upgrade(r, newFile)
	testnet.WaitFor(t, "requests after the upgrade", 30*time.Second, func() bool { return load.ok.Load() > 200 })
	load.halt()
	if n := load.failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during the package upgrade, first: %s", n, n+load.ok.Load(), load.first())
	}
	if got := r.managerPID(); got != manager {
		t.Errorf("manager pid %d -> %d across the package upgrade, want the same (never restarted)", manager, got)
	}
	after := r.pids()
	for port, pid := range before {
		if after[port] != pid {
			t.Errorf("port %d: pid %d -> %d across the package upgrade, want the same", port, pid, after[port])
		}
	}
	r.checkRunsInstalledBinary(manager, out)
	if v := pk.version(r); !strings.HasPrefix(v, "0.1.0+e2e2") {
		t.Errorf("installed version %q after the upgrade, want 0.1.0+e2e2", v)
	}

	pk.remove(r, newFile)
	testnet.WaitFor(t, "no process left in the root after the package's removal", 30*time.Second, func() bool { return len(r.processes()) == 0 })
	for _, p := range ports {
		if testnet.PortOpen(p) {
			t.Errorf("port %d still open after the package's removal", p)
		}
	}
	if pk.purge == nil {
		return
	}
	pk.purge(r)
	for _, dir := range []string{"/var/lib/hellomgr", "/var/log/hellomgr", "/etc/hellomgr"} {
		if _, err := os.Stat(r.path(dir)); err == nil {
			t.Errorf("%s still there after the purge", dir)
		}
	}
}

// checkServes checks every port answers, with its log and the control
// socket where the packaged config puts them.
func (r *debRoot) checkServes(ports []int) {
	t := r.t
	t.Helper()
	for _, p := range ports {
		if body, err := testnet.Get(p); err != nil || body != "Hello Itcast!" {
			t.Fatalf("port %d after up from the package: got %q, %v; want Hello Itcast!", p, body, err)
		}
		if _, err := os.Stat(r.path("/var/log/hellomgr/" + strconv.Itoa(p) + ".log")); err != nil {
			t.Errorf("port %d: no log where the packaged config puts it: %v", p, err)
		}
	}
	if fi, err := os.Stat(r.path("/var/lib/hellomgr/hellomgr.sock")); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("no control socket at /var/lib/hellomgr/hellomgr.sock: %v", err)
	}
}

// buildPackage runs `make package` into dist with version and returns the
// .deb and .rpm it wrote.
func buildPackage(t *testing.T, dist, version string) (deb, rpm string) {
	t.Helper()
	cmd := exec.Command("make", "-C", "..", "package", "DIST="+dist, "PKG_VERSION="+version)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dist, "hellomgr_"+version+"_*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(dist, "hellomgr-"+version+"-*.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		t.Fatalf("make package wrote %v and %v into %s, want one .deb and one .rpm of %s", debs, rpms, dist, version)
	}
	return debs[0], rpms[0]
}

// lintPackages fails on any lintian or rpmlint error (warnings are
// printed, not failed).
func lintPackages(t *testing.T, deb, rpm string) {
	t.Helper()
	out, _ := exec.Command("lintian", deb).CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E: ") {
			t.Errorf("lintian %s: %s", filepath.Base(deb), line)
		}
	}
	out, err := exec.Command("rpmlint", "-c", "../packaging/rpmlintrc.toml", rpm).CombinedOutput()
	if err != nil || !regexp.MustCompile(`\b0 errors\b`).Match(out) {
		t.Errorf("rpmlint %s: %v\n%s", filepath.Base(rpm), err, out)
	}
}

// checkInstalled checks what the first install left: the files where
// the system looks for them, the user, the service enabled, the unit
// valid on the installed system, and the Tornado module importable by
// python3.
func (pk packager) checkInstalled(r *debRoot) {
	t := r.t
	t.Helper()
	for _, f := range []string{
		"/usr/bin/hellomgr", pk.unitDir + "/hellomgr.service", "/etc/hellomgr/config.yaml",
		"/usr/share/man/man1/hellomgr.1.gz", "/usr/share/man/man1/hellomgr-up.1.gz",
		"/usr/share/bash-completion/completions/hellomgr", pk.zshDir + "/_hellomgr",
		"/usr/share/fish/vendor_completions.d/hellomgr.fish",
		"/usr/lib/sysusers.d/hellomgr.conf", "/usr/lib/tmpfiles.d/hellomgr.conf",
	} {
		if _, err := os.Stat(r.path(f)); err != nil {
			t.Errorf("after the install: %v", err)
		}
	}
	// Enabled: the link systemctl or deb-systemd-helper makes for
	// WantedBy= (Debian 12's /lib is /usr/lib).
	wants := "/etc/systemd/system/multi-user.target.wants/hellomgr.service"
	if to, err := os.Readlink(r.path(wants)); err != nil || !strings.HasSuffix(to, "/lib/systemd/system/hellomgr.service") {
		t.Errorf("after the install: %s -> %q, %v; want a link to the unit (enabled)", wants, to, err)
	}
	if out := pk.conffiles(r); !strings.Contains(out, "/etc/hellomgr/config.yaml") {
		t.Errorf("conffiles %q, want /etc/hellomgr/config.yaml", out)
	}
	if out := r.mustRun("getent", "passwd", "hellomgr"); !strings.Contains(out, "/usr/sbin/nologin") {
		t.Errorf("user hellomgr: %q, want a system user with /usr/sbin/nologin", out)
	}
	// systemd-analyze exits 0 for a line it ignores: any output is a finding.
	if out, err := r.run("systemd-analyze", "verify", "--man=no", "hellomgr.service"); err != nil || out != "" {
		t.Errorf("systemd-analyze verify hellomgr.service in the root: %v\n%s", err, out)
	}
	if out, err := r.run("env", "PYTHONPATH="+pk.python, "python3", "-c", "import hellomgr_tornado"); err != nil {
		t.Errorf("python3 -c 'import hellomgr_tornado' in the root: %v\n%s", err, out)
	}
}

// setPorts edits the installed config as an operator would: the ports
// (free ones, not the shipped 8001-8004) and the metrics address.
func (r *debRoot) setPorts(ports []int, metrics int) {
	t := r.t
	t.Helper()
	path := r.path("/etc/hellomgr/config.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var list strings.Builder
	for _, p := range ports {
		list.WriteString("  - " + strconv.Itoa(p) + "\n")
	}
	text := strings.Replace(string(b), "  - 8001-8004\n", list.String(), 1)
	text = strings.Replace(text, "address: 127.0.0.1:9400", "address: 127.0.0.1:"+strconv.Itoa(metrics), 1)
	if text == string(b) || !strings.Contains(text, list.String()) {
		t.Fatalf("%s: no `  - 8001-8004` or metrics address to change", path)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// managerPID is the pid in the manager's pid file, 0 when there is none.
func (r *debRoot) managerPID() int {
	b, _ := os.ReadFile(r.path("/etc/hellomgr/.hellomgr/hellomgr.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// pids is every instance's pid by port, from `hellomgr status --json`.
func (r *debRoot) pids() map[int]int {
	r.t.Helper()
	var rows []struct{ Port, PID int }
	out := r.mustRunAs("hellomgr", "/usr/bin/hellomgr", "status", "--json", "-c", "/etc/hellomgr/config.yaml")
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		r.t.Fatalf("status --json: %v\n%s", err, out)
	}
	m := map[int]int{}
	for _, row := range rows {
		m[row.Port] = row.PID
	}
	return m
}

// checkRunsInstalledBinary checks that the manager now runs the file the
// new package installed: before the postinst's upgrade it ran the old
// one, which dpkg had replaced (a deleted file).
func (r *debRoot) checkRunsInstalledBinary(manager int, dpkgOut string) {
	t := r.t
	t.Helper()
	running, err := os.Stat("/proc/" + strconv.Itoa(manager) + "/exe")
	if err != nil {
		t.Fatalf("manager pid %d: %v", manager, err)
	}
	installed, err := os.Stat(r.path("/usr/bin/hellomgr"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(running, installed) {
		t.Errorf("manager pid %d runs another file than the installed /usr/bin/hellomgr: the postinst did not upgrade it\ndpkg -i said:\n%s", manager, dpkgOut)
	}
}
