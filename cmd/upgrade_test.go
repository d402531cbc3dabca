package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/internal/testnet"
)

// newBinary copies the test binary (which plays hellomgr) into the env's
// folder: the "new" hellomgr an upgrade execs.
func (e *env) newBinary(name string) string {
	e.t.Helper()
	src, err := os.Open(os.Args[0])
	if err != nil {
		e.t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(e.dir, name)
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		e.t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// runWith runs `binary args... -c config` as hellomgr.
func (e *env) runWith(binary string, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	cmd := e.command(args...)
	cmd.Path, cmd.Args[0] = binary, binary
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if exitErr, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), exitErr.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run %s %v: %v", binary, args, err)
	}
	return out.String(), errb.String(), 0
}

func TestUpgradeKeepsEveryInstanceAndPortWhileServing(t *testing.T) {
	e := newEnv(t, 3, builtIn("v1"))
	e.mustRun("up", "-d")
	manager, before := e.managerPID(), e.pids()
	binary := e.newBinary("hellomgr-new")
	h := startHammer(e.ports)
	time.Sleep(100 * time.Millisecond)
	out, errOut, code := e.runWith(binary, "upgrade")
	time.Sleep(100 * time.Millisecond)
	h.halt()
	if code != 0 {
		t.Fatalf("upgrade: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if h.failed.Load() != 0 || h.ok.Load() == 0 {
		t.Errorf("during upgrade: %d answered, %d failed: %v", h.ok.Load(), h.failed.Load(), h.errs)
	}
	if !strings.Contains(out, "3 of 3 instances kept their pid") {
		t.Errorf("upgrade output %q does not say every instance kept its pid", out)
	}
	if got := e.managerPID(); got != manager {
		t.Errorf("manager pid %d -> %d, want the same (exec in place)", manager, got)
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", manager)); exe != binary {
		t.Errorf("manager runs %q, want the new binary %q", exe, binary)
	}
	after := e.pids()
	for _, port := range e.ports {
		if after[port] != before[port] {
			t.Errorf("port %d: pid %d -> %d across the upgrade, want the same", port, before[port], after[port])
		}
	}
	if st := e.mustRun("status"); !strings.Contains(st, fmt.Sprintf("manager pid %d, hellomgr", manager)) {
		t.Errorf("status after the upgrade:\n%s", st)
	}

	// The new program supervises as the old one did: a reload replaces
	// every instance, and down stops everything.
	e.writeConfig(builtIn("v2"))
	e.mustRun("reload")
	reloaded := e.pids()
	for _, port := range e.ports {
		if reloaded[port] == before[port] || reloaded[port] == 0 {
			t.Errorf("port %d: pid %d -> %d after the reload, want a new process", port, before[port], reloaded[port])
		}
		if body, err := testnet.Get(port); err != nil || body != "v2" {
			t.Errorf("port %d after the reload: %q, %v; want v2", port, body, err)
		}
		if alive(before[port]) && !zombie(before[port]) {
			t.Errorf("port %d: adopted pid %d still alive after the reload", port, before[port])
		}
	}
	e.mustRun("down")
	waitGone(t, manager)
	for port, pid := range reloaded {
		if alive(pid) && !zombie(pid) {
			t.Errorf("port %d: pid %d alive after down", port, pid)
		}
		if _, err := testnet.Get(port); err == nil {
			t.Errorf("port %d still answers after down", port)
		}
	}
}

func TestUpgradeRefusesABinaryThatIsNotHellomgr(t *testing.T) {
	e := newEnv(t, 2, builtIn("v1"))
	e.mustRun("up", "-d")
	manager, before := e.managerPID(), e.pids()
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", manager))
	for name, script := range map[string]string{
		"not-hellomgr": "#!/bin/sh\necho hello\n",
		"other-format": "#!/bin/sh\necho '{\"program\":\"hellomgr\",\"version\":\"v9\",\"state_format\":999}'\n",
		"fails":        "#!/bin/sh\necho 'no such command' >&2\nexit 2\n",
	} {
		path := filepath.Join(e.dir, name)
		if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := e.run("upgrade", "--binary", path)
		if code != 1 || !strings.Contains(errOut, "upgrade refused, nothing changed") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1, refused", name, code, out, errOut)
		}
		if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", manager)); got != exe {
			t.Errorf("%s: manager runs %q, want still %q", name, got, exe)
		}
		for port, pid := range e.pids() {
			if pid != before[port] {
				t.Errorf("%s: port %d: pid %d -> %d after a refused upgrade", name, port, before[port], pid)
			}
		}
	}
	e.mustRun("reload") // the instances are supervised again
}

func TestUpgradeToABinaryThatCannotTakeOverGoesBack(t *testing.T) {
	e := newEnv(t, 2, builtIn("v1"))
	e.mustRun("up", "-d")
	manager, before := e.managerPID(), e.pids()
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", manager))
	// A hellomgr that passes upgrade-check but is given a config it
	// cannot load when it takes over.
	wrapper := filepath.Join(e.dir, "broken")
	script := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = up ]; then exec %q up -c %q --upgrade-fd \"$5\"; fi\nexec %q \"$@\"\n",
		os.Args[0], filepath.Join(e.dir, "missing.yaml"), os.Args[0])
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e.run("upgrade", "--binary", wrapper)
	if code != 1 || !strings.Contains(errOut, "could not take over") || !strings.Contains(errOut, "missing.yaml") {
		b, _ := os.ReadFile(filepath.Join(e.dir, ".hellomgr", "hellomgr.log"))
		t.Logf("manager log:\n%s", b)
		t.Fatalf("upgrade to a binary that cannot take over: exit %d\nstdout: %s\nstderr: %s\nwant exit 1 with the reason", code, out, errOut)
	}
	if got := e.managerPID(); got != manager {
		t.Errorf("manager pid %d -> %d", manager, got)
	}
	if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", manager)); got != exe {
		t.Errorf("manager runs %q, want the old program %q back", got, exe)
	}
	for port, pid := range e.pids() {
		if pid != before[port] {
			t.Errorf("port %d: pid %d -> %d after a failed upgrade", port, before[port], pid)
		}
	}
	if st := e.mustRun("status"); !strings.Contains(st, "last upgrade failed") {
		t.Errorf("status does not show the failed upgrade:\n%s", st)
	}
	e.mustRun("reload")
}

func TestSIGUSR2UpgradesToTheBinaryOnDisk(t *testing.T) {
	e := newEnv(t, 2, builtIn("v1"))
	e.mustRun("up", "-d")
	mgr, before := e.managerPID(), e.pids()
	syscall.Kill(mgr, syscall.SIGUSR2)
	testnet.WaitFor(t, "the manager to report one upgrade", 10*time.Second, func() bool {
		r, err := control.Dial(filepath.Join(e.dir, ".hellomgr", "hellomgr.sock")).Status(context.Background())
		return err == nil && r.Upgrades == 1
	})
	for port, pid := range e.pids() {
		if pid != before[port] {
			t.Errorf("port %d: pid %d -> %d after SIGUSR2", port, before[port], pid)
		}
	}
	if got := e.managerPID(); got != mgr {
		t.Errorf("manager pid %d -> %d after SIGUSR2", mgr, got)
	}
}
