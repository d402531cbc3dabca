package cmd

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// Files hellomgr did not create are never deleted, overwritten or written
// through: each attack below is refused by `check` (exit 1, the problem on
// a line of its own), by `up -d` and by the foreground `up`, and whatever
// was planted, and whatever it points to, is left exactly as it was.

// pathState describes what is at path (testnet.PathState).
func pathState(path string) string { return testnet.PathState(path) }

// kept records what is at each path now; its check fails the test for
// each path that changed since.
func kept(t *testing.T, paths ...string) (check func()) {
	t.Helper()
	before := map[string]string{}
	for _, p := range paths {
		before[p] = pathState(p)
	}
	return func() {
		t.Helper()
		for _, p := range paths {
			if now := pathState(p); now != before[p] {
				t.Errorf("%s changed: now %s, was %s", p, now, before[p])
			}
		}
	}
}

// problems returns the lines of a refusal on stderr, without the
// "hellomgr: " that starts the first.
func problems(stderr string) []string {
	return strings.Split(strings.TrimPrefix(strings.TrimSpace(stderr), "hellomgr: "), "\n")
}

func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// runLimited runs a command that must end by itself; a foreground `up`
// that starts instead of refusing is killed (by its pid) after limit.
func (e *env) runLimited(limit time.Duration, args ...string) (stderr string, code int) {
	e.t.Helper()
	cmd := e.command(args...)
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	timer := time.AfterFunc(limit, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	if !timer.Stop() {
		e.t.Errorf("hellomgr %v still ran after %v, want it refused at once", args, limit)
	}
	if exitErr, ok := err.(*exec.ExitError); ok {
		return errb.String(), exitErr.ExitCode()
	}
	if err != nil {
		e.t.Fatalf("run hellomgr %v: %v", args, err)
	}
	return errb.String(), 0
}

// mustRefuse runs check, up -d and up, and wants each to exit 1 naming
// the problem: check and up -d with want as a line of its own, the
// foreground up with want in its message. Nothing may run afterwards.
func (e *env) mustRefuse(want string) {
	e.t.Helper()
	_, errOut, code := e.run("check")
	if code != 1 || !hasLine(problems(errOut), want) {
		e.t.Errorf("check: exit %d, stderr %q; want exit 1 and the line %q", code, errOut, want)
	}
	for _, args := range [][]string{{"up", "-d"}, {"up"}} {
		errOut, code := e.runLimited(10*time.Second, args...)
		if code != 1 || !strings.Contains(errOut, want) {
			e.t.Errorf("%s: exit %d, stderr %q; want exit 1 and %q", strings.Join(args, " "), code, errOut, want)
		}
		if pid := e.managerPID(); pid != 0 && alive(pid) {
			e.t.Errorf("%s: a manager (pid %d) runs", strings.Join(args, " "), pid)
			e.killManager()
		}
		for _, port := range e.ports {
			if testnet.PortOpen(port) {
				e.t.Errorf("%s: port %d is open", strings.Join(args, " "), port)
			}
		}
	}
}

func TestUpRefusesToDeleteAFileAtTheSocketPath(t *testing.T) {
	e := newEnv(t, 1, "socket: precious.txt\n")
	precious := filepath.Join(e.dir, "precious.txt")
	os.WriteFile(precious, []byte("precious\n"), 0o644)
	unchanged := kept(t, precious)
	want := precious + ": is a regular file, not a control socket; move it away, or set socket: to another path"
	e.mustRefuse(want)
	if _, errOut, code := e.run("status"); code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("status: exit %d, stderr %q; want exit 1 and %q", code, errOut, want)
	}
	unchanged()
}

const nginxSection = "nginx:\n  upstream_file: upstream.conf\n  reload_command: [/bin/true]\n"

func TestUpRefusesToOverwriteAnUpstreamFileItDidNotWrite(t *testing.T) {
	e := newEnv(t, 1, nginxSection)
	path := filepath.Join(e.dir, "upstream.conf")
	os.WriteFile(path, []byte("upstream mine { server 10.0.0.7:80; }\n"), 0o644)
	unchanged := kept(t, path)
	e.mustRefuse(path + `: was not written by hellomgr (it does not start with "# Written by hellomgr"), and hellomgr replaces only its own upstream file; move it away (hellomgr writes a new one), or set nginx.upstream_file to another path`)
	unchanged()
}

func TestUpRefusesALinkAsUpstreamFile(t *testing.T) {
	e := newEnv(t, 1, nginxSection)
	path := filepath.Join(e.dir, "upstream.conf")
	// Even a link to a file hellomgr wrote: replacing the link by a
	// plain file would leave nginx reading the old one.
	target := filepath.Join(e.dir, "real.conf")
	os.WriteFile(target, []byte("# Written by hellomgr: do not edit, it is rewritten at every rollout.\nupstream hellomgr {}\n"), 0o644)
	os.Symlink(target, path)
	unchanged := kept(t, path, target)
	e.mustRefuse(path + ": is a symbolic link, which hellomgr would replace with a plain file at every rollout; set nginx.upstream_file to the file it points to")
	unchanged()
}

func TestUpRefusesAStateFolderPlantedAsALink(t *testing.T) {
	e := newEnv(t, 1, "")
	elsewhere := t.TempDir()
	os.WriteFile(filepath.Join(elsewhere, "secret"), []byte("secret\n"), 0o600)
	state := filepath.Join(e.dir, ".hellomgr")
	os.Symlink(elsewhere, state)
	unchanged := kept(t, state, elsewhere, filepath.Join(elsewhere, "secret"))
	e.mustRefuse(state + ": state folder is a symbolic link, not a folder; remove the link (hellomgr creates the folder)")
	unchanged()
}

func TestUpRefusesALogFilePlantedAsALink(t *testing.T) {
	e := newEnv(t, 1, "")
	precious := filepath.Join(t.TempDir(), "precious")
	os.WriteFile(precious, []byte("precious\n"), 0o600)
	logs := filepath.Join(e.dir, "logs")
	os.Mkdir(logs, 0o755)
	path := filepath.Join(logs, strconv.Itoa(e.ports[0])+".log")
	os.Symlink(precious, path)
	unchanged := kept(t, path, precious)
	e.mustRefuse(path + ": is a symbolic link, and hellomgr writes its files only itself, never through a link; remove it")
	unchanged()
}

// As ssh's StrictModes: a state or log folder that users other than its
// owner can write is refused, with the chmod that fixes it.
func TestUpRefusesFoldersOtherUsersCanWrite(t *testing.T) {
	e := newEnv(t, 1, "")
	state, logs := filepath.Join(e.dir, ".hellomgr"), filepath.Join(e.dir, "logs")
	for _, dir := range []string{state, logs} {
		os.Mkdir(dir, 0o700)
		os.Chmod(dir, 0o777)
	}
	unchanged := kept(t, state, logs)
	stateLine := state + ": state folder is writable by users other than its owner (mode 0777); chmod go-w " + state
	logsLine := logs + ": log folder is writable by users other than its owner (mode 0777); chmod go-w " + logs
	_, errOut, code := e.run("check")
	if lines := problems(errOut); code != 1 || len(lines) != 2 || lines[0] != stateLine || lines[1] != logsLine {
		t.Errorf("check: exit %d, stderr %q; want exit 1 and the lines\n%s\n%s", code, errOut, stateLine, logsLine)
	}
	e.mustRefuse(stateLine)
	unchanged()

	os.Chmod(state, 0o700)
	unchanged = kept(t, logs)
	e.mustRefuse(logsLine)
	unchanged()
}

// A socket that another user owns, at the control socket's path, is not
// the manager: status, reload and down refuse to talk to it, and it hears
// no request.
func TestCommandsRefuseASocketOfAnotherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test plays another user and needs root (CI runs as root)")
	}
	e := newEnv(t, 1, "")
	os.Mkdir(filepath.Join(e.dir, ".hellomgr"), 0o700)
	ln, err := net.Listen("unix", e.socket())
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		fmt.Fprint(w, `{"pid": 4242, "instances": []}`)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	if err := os.Chown(e.socket(), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	unchanged := kept(t, e.socket())
	want := e.socket() + ": control socket is owned by nobody (uid 65534), not by root, so it is not your hellomgr's; if it is that user's manager, run hellomgr as that user; if not, remove it, or set socket: to a path in a folder only you can write"
	for _, cmd := range []string{"status", "reload", "down"} {
		if _, errOut, code := e.run(cmd); code != 1 || strings.TrimSpace(errOut) != "hellomgr: "+want {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and %q", cmd, code, errOut, want)
		}
	}
	e.mustRefuse(want)
	if n := requests.Load(); n != 0 {
		t.Errorf("the socket of another user got %d requests", n)
	}
	unchanged()
}
