package cmd

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// builtIn is a config command running the built-in server with a message,
// set up as the default built-in command is: socket handoff, and readiness
// from the server's own READY=1.
func builtIn(message string) string {
	return fmt.Sprintf(`command: [%q, serve, --port, "{port}", --message, %q]
reload:
  handoff: socket
ready:
  notify: true
  timeout: 5s
`, os.Args[0], message)
}

// hammer GETs every port in a loop until stop is closed, and counts
// answers and failures.
type hammer struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	last       map[int]string // the last body seen per port
	wg         sync.WaitGroup
	stop       chan struct{}
}

func startHammer(ports []int) *hammer {
	h := &hammer{stop: make(chan struct{}), last: map[int]string{}}
	for _, port := range ports {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			for {
				select {
				case <-h.stop:
					return
				default:
				}
				body, err := testnet.Get(port)
				h.mu.Lock()
				if err != nil {
					h.failed.Add(1)
					h.errs = append(h.errs, fmt.Sprintf("port %d: %v", port, err))
				} else {
					h.ok.Add(1)
					h.last[port] = body
				}
				h.mu.Unlock()
			}
		}()
	}
	return h
}

func (h *hammer) halt() { close(h.stop); h.wg.Wait() }

func TestReloadReplacesEveryPIDOnePortAtATimeWhileServing(t *testing.T) {
	e := newEnv(t, 3, builtIn("v1"))
	e.mustRun("up", "-d")
	before := e.pids()
	h := startHammer(e.ports)
	time.Sleep(100 * time.Millisecond)
	e.writeConfig(builtIn("v2"))
	out := e.mustRun("reload")
	time.Sleep(100 * time.Millisecond)
	h.halt()

	after := e.pids()
	for _, port := range e.ports {
		if after[port] == before[port] || after[port] == 0 {
			t.Errorf("port %d: pid %d -> %d, want a new process", port, before[port], after[port])
		}
		if alive(before[port]) && !zombie(before[port]) {
			t.Errorf("port %d: old pid %d still alive after reload", port, before[port])
		}
		if body, _ := testnet.Get(port); body != "v2" {
			t.Errorf("port %d after reload: got %q, want v2", port, body)
		}
	}
	if h.failed.Load() != 0 || h.ok.Load() == 0 {
		t.Errorf("during reload: %d answered, %d failed: %v", h.ok.Load(), h.failed.Load(), h.errs)
	}
	assertOneAtATime(t, out, e.ports)
}

// assertOneAtATime checks the progress lines: each port is ready before
// the next one is touched.
func assertOneAtATime(t *testing.T, out string, ports []int) {
	t.Helper()
	sorted := append([]int(nil), ports...)
	sort.Ints(sorted)
	var steps []string
	for _, line := range strings.Split(out, "\n") {
		port, rest, ok := strings.Cut(line, ": ")
		if _, err := strconv.Atoi(port); err != nil || !ok {
			continue
		}
		switch {
		case strings.HasPrefix(rest, "stopping"), strings.HasPrefix(rest, "starting"):
			steps = append(steps, "begin "+port)
		case strings.Contains(rest, "ready in"):
			steps = append(steps, "ready "+port)
		}
	}
	var want []string
	for _, p := range sorted {
		want = append(want, "begin "+strconv.Itoa(p), "ready "+strconv.Itoa(p))
	}
	if strings.Join(steps, ",") != strings.Join(want, ",") {
		t.Errorf("rollout steps %v, want %v; output:\n%s", steps, want, out)
	}
}

func TestReloadWithABrokenConfigChangesNothing(t *testing.T) {
	e := newEnv(t, 2, "")
	e.mustRun("up", "-d")
	before := e.pids()
	e.writeConfig("comand: [oops]\n")
	_, errOut, code := e.run("reload")
	if code != 1 || !strings.Contains(errOut, "config.yaml:") || !strings.Contains(errOut, `"comand"`) || !strings.Contains(errOut, "nothing changed") {
		t.Fatalf("reload of a broken config: exit %d, stderr %q; want exit 1 naming the file, line and key", code, errOut)
	}
	for port, pid := range e.pids() {
		if pid != before[port] {
			t.Errorf("port %d: pid %d -> %d after a refused reload", port, before[port], pid)
		}
	}
}

func TestReloadHaltsAtAFailingPortAndRestoresIt(t *testing.T) {
	e := newEnv(t, 3, builtIn("v1"))
	e.mustRun("up", "-d")
	before := e.pids()
	first := e.ports[0]
	for _, p := range e.ports {
		first = min(first, p)
	}
	e.writeConfig(fmt.Sprintf("command: [%q, -test.run=^$]\nenv:\n  HELLOMGR_TEST_CHILD: exit-at-once\n", os.Args[0]))
	out, errOut, code := e.run("reload")
	if code != 1 {
		t.Fatalf("reload to a crashing command: exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"reload halted at port " + strconv.Itoa(first), "exited before ready: exit status 3", "boom: config missing"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("reload stderr %q does not contain %q", errOut, want)
		}
	}
	after := e.pids()
	for _, port := range e.ports {
		if port != first && after[port] != before[port] {
			t.Errorf("port %d: pid %d -> %d, but the rollout halted before it", port, before[port], after[port])
		}
		if body, err := testnet.Get(port); err != nil || body != "v1" {
			t.Errorf("port %d after the halted reload: %q, %v; want v1", port, body, err)
		}
	}
}

func TestSIGHUPStartsTheSameRollout(t *testing.T) {
	e := newEnv(t, 2, builtIn("v1"))
	e.mustRun("up", "-d")
	before := e.pids()
	e.writeConfig(builtIn("v2"))
	syscall.Kill(e.managerPID(), syscall.SIGHUP)
	// A new process may answer before the manager has recorded it as
	// ready, so wait for both the answers and the pids.
	testnet.WaitFor(t, "every port to answer v2 from a new pid", 10*time.Second, func() bool {
		pids := e.pids()
		for _, port := range e.ports {
			if body, _ := testnet.Get(port); body != "v2" || pids[port] == before[port] {
				return false
			}
		}
		return true
	})
}
