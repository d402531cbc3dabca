package manager

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/internal/testnet"
	"github.com/hellomgr/hellomgr/proc"
)

// A manager told to stop during a rollout (systemctl stop during systemctl
// reload) ends the rollout, stops every instance and exits cleanly, at
// whatever step the rollout was: no panic, no process left behind, no port
// left open, and the rollout's caller hears that a shutdown stopped it.
// Each case stops the manager at each of the rollout's progress lines in
// turn, for each way a port is swapped and for a rollout that succeeds and
// one that halts.
func TestShutdownAtEveryStepOfARollout(t *testing.T) {
	swaps := map[string]string{
		"handoff + READY=1": "reload: {handoff: socket}\nready: {notify: true, timeout: 5s}\n",
		"stop-then-start":   "reload: {handoff: none}\nready: {timeout: 5s, interval: 10ms}\n",
		"nginx drain":       "reload: {handoff: socket}\nready: {timeout: 5s, interval: 10ms}\nnginx: {upstream_file: upstream.conf, reload_command: [/bin/true]}\n",
	}
	// The built-in server as the app: a binary without the race detector
	// starts ten times faster than this test binary would.
	bin := buildHellomgr(t)
	outcomes := map[string][]string{
		"ready":  {bin, "serve", "--port", "{port}", "--message", "v2"},
		"halted": {bin, "serve", "--no-such-flag"},
	}
	for swapName, swap := range swaps {
		for outcome, next := range outcomes {
			t.Run(swapName+", "+outcome, func(t *testing.T) {
				steps := rolloutSteps(t, bin, swap, next, -1)
				t.Logf("stopping at each of %d progress lines", steps)
				for stopAt := range steps {
					rolloutSteps(t, bin, swap, next, stopAt)
				}
			})
		}
	}
}

// rolloutSteps runs the built-in server bin on 2 ports under swap,
// reloads them to the command next and, when stopAt >= 0, shuts the
// manager down from the stopAt-th progress line on. It returns the number
// of progress lines the rollout printed.
func rolloutSteps(t *testing.T, bin, swap string, next []string, stopAt int) int {
	t.Helper()
	dir := t.TempDir()
	ports := testnet.FreePorts(t, 2)
	path := filepath.Join(dir, "config.yaml")
	write := func(argv []string) {
		quoted := make([]string, len(argv))
		for i, a := range argv {
			quoted[i] = strconv.Quote(a)
		}
		// RUN marks this run's processes, which the check looks for.
		text := fmt.Sprintf("ports: [%d, %d]\ncommand: [%s]\nenv: {RUN: %q}\nstop: {timeout: 5s}\nmetrics: {address: \"off\"}\n%s",
			ports[0], ports[1], strings.Join(quoted, ", "), dir, swap)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write([]string{bin, "serve", "--port", "{port}", "--message", "v1"})
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m := New(cfg, Options{})
	if err := m.Prepare(); err != nil {
		t.Fatal(err)
	}
	if err := m.StartAll(context.Background()); err != nil {
		m.Shutdown(context.Background())
		t.Fatal(err)
	}
	write(next)

	var lines []string
	var shutdown sync.WaitGroup
	shutdownErr := make(chan error, 1)
	progress := func(format string, args ...any) {
		lines = append(lines, fmt.Sprintf(format, args...))
		if len(lines)-1 == stopAt {
			shutdown.Go(func() { shutdownErr <- m.Shutdown(context.Background()) })
		}
	}
	var mu sync.Mutex // a batch reports progress from several goroutines
	reloadErr := m.Reload(context.Background(), func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		progress(format, args...)
	})
	if stopAt < 0 {
		m.Shutdown(context.Background())
	}
	shutdown.Wait()
	where := fmt.Sprintf("stopped at line %d of %q", stopAt, lines)
	if stopAt >= 0 {
		if err := <-shutdownErr; err != nil {
			t.Errorf("%s: Shutdown: %v", where, err)
		}
		if reloadErr != nil && !errors.Is(reloadErr, ErrShuttingDown) && !slices.Contains(next, "--no-such-flag") {
			t.Errorf("%s: reload error %q does not say the manager is shutting down", where, reloadErr)
		}
	}
	checkNothingLeft(t, where, "RUN="+dir, ports)
	if err := m.Reload(context.Background(), nil); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("%s: a reload after Shutdown: %v, want ErrShuttingDown", where, err)
	}
	return len(lines)
}

// checkNothingLeft wants no process alive whose environment holds mark
// (every instance of the run had it), and none of the ports held by this
// process (the manager). Another parallel run may listen on a port by now:
// it was free again.
func checkNothingLeft(t *testing.T, where, mark string, ports []int) {
	t.Helper()
	testnet.WaitFor(t, "every instance gone ("+where+")", 10*time.Second, func() bool {
		return len(marked(t, mark)) == 0
	})
	for _, port := range ports {
		holders, err := proc.Holders(port)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range holders {
			if h.PID == os.Getpid() {
				t.Errorf("%s: the manager still holds port %d", where, port)
			}
		}
	}
}

// marked lists the live processes whose environment holds the entry mark.
// A zombie's environment reads as empty.
func marked(t *testing.T, mark string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && slices.Contains(strings.Split(string(env), "\x00"), mark) {
			pids = append(pids, pid)
		}
	}
	return pids
}

var built struct {
	once sync.Once
	path string
	err  error
}

// buildHellomgr builds the hellomgr binary once per test run.
func buildHellomgr(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "hmbin")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "hellomgr")
		out, err := exec.Command("go", "build", "-o", built.path, "github.com/hellomgr/hellomgr").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}
