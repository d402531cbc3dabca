package cmd

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"

	"github.com/hellomgr/hellomgr/internal/testchild"
)

// asMain makes the test binary behave as the hellomgr binary: the tests
// run it as `hellomgr up`, and the manager runs it again as `hellomgr
// serve` for each built-in instance (the variable is inherited).
const asMain = "HELLOMGR_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	testchild.Main()
	if os.Getenv(asMain) == "1" {
		slowTakeover()
		os.Exit(Execute(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// env is a folder with a config file, and the ports it lists.
type env struct {
	t     *testing.T
	dir   string
	ports []int
	vars  []string // added to the environment of the commands run
}

// takeoverDelay, in the environment of a manager, makes each program that
// takes over from another (hellomgr upgrade) wait that long before it
// runs, once its packages, package heldsig among them, are initialized:
// the time a loaded machine may take, made long enough to aim at.
const takeoverDelay = "HELLOMGR_TEST_TAKEOVER_DELAY"

func slowTakeover() {
	if d, err := time.ParseDuration(os.Getenv(takeoverDelay)); err == nil && slices.Contains(os.Args, "--upgrade-fd") {
		time.Sleep(d)
	}
}

// newEnv writes a config for n free ports with the given extra YAML, in a
// short temp folder (Unix socket paths are limited to 108 bytes).
func newEnv(t *testing.T, n int, extra string) *env {
	t.Helper()
	dir, err := os.MkdirTemp("", "hm")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, ports: testnet.FreePorts(t, n)}
	e.writeConfig(extra)
	t.Cleanup(func() {
		e.killManager()
		os.RemoveAll(dir)
	})
	return e
}

func (e *env) configPath() string { return filepath.Join(e.dir, "config.yaml") }

// writeConfig (re)writes the config: the env's ports, quick timings, and extra.
func (e *env) writeConfig(extra string) {
	var ports []string
	for _, p := range e.ports {
		ports = append(ports, strconv.Itoa(p))
	}
	ready := "ready:\n  timeout: 5s\n  interval: 20ms\n"
	if strings.Contains(extra, "ready:") {
		ready = "" // extra has its own
	}
	restart := "restart:\n  backoff: 20ms\n  max_backoff: 200ms\n"
	if strings.Contains(extra, "restart:") {
		restart = ""
	}
	yaml := fmt.Sprintf(`ports: [%s]
%sstop:
  timeout: 5s
%smetrics:
  address: 127.0.0.1:0
%s`, strings.Join(ports, ", "), ready, restart, extra)
	if err := os.WriteFile(e.configPath(), []byte(yaml), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// run runs `hellomgr args...` with -c pointing at the env's config and
// returns its output and exit code.
func (e *env) run(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	cmd := e.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run hellomgr %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (e *env) command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append(args, "-c", e.configPath())...)
	cmd.Env = append(append(os.Environ(), asMain+"=1"), e.vars...)
	cmd.Dir = e.dir
	return cmd
}

// mustRun runs a command that must succeed.
func (e *env) mustRun(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("hellomgr %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

// managerPID reads the pid file of the env's manager (0 if none).
func (e *env) managerPID() int {
	b, err := os.ReadFile(filepath.Join(e.dir, ".hellomgr", "hellomgr.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// killManager SIGKILLs the env's manager, if any; its instances die with
// it (parent-death signal), which TestKilledManagerLeavesNothing proves.
func (e *env) killManager() {
	if pid := e.managerPID(); pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
		waitGone(e.t, pid)
	}
}

var client = &http.Client{Timeout: 5 * time.Second}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) && !zombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive after 10s", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// zombie reports a process that has exited but was not reaped (a child of
// the test process that nobody waited for).
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}
