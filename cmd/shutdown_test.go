package cmd

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// `down` while a reload waits for a slow new instance: the rollout ends,
// the half-started instance is stopped with the rest, every process is
// gone, and the reload client is told why instead of seeing its stream cut.
func TestDownDuringReloadTellsTheReloadWhy(t *testing.T) {
	e := newEnv(t, 2, testChild("serve"))
	e.mustRun("up", "-d")
	before := e.pids()
	e.writeConfig(testChild("slow-start", "SLOW_START=3s"))
	reload := e.command("reload")
	var stderr bytes.Buffer
	reload.Stderr = &stderr
	out, err := reload.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := reload.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(out)
	for { // until the first port's new instance is starting
		line, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("reload output ended before a port was replaced: %v\n%s", err, stderr.String())
		}
		if strings.Contains(line, "stopping pid") {
			break
		}
	}
	manager := e.managerPID()
	e.mustRun("down")
	io.Copy(io.Discard, lines)
	err = reload.Wait()
	if err == nil || !strings.Contains(stderr.String(), "the manager is shutting down") {
		t.Errorf("reload: %v, stderr %q; want exit 1 saying the manager is shutting down", err, stderr.String())
	}
	t.Logf("reload: %s", stderr.String())
	if strings.Contains(stderr.String(), "EOF") {
		t.Errorf("reload: stderr %q: the stream was cut", stderr.String())
	}
	testnet.WaitFor(t, "the manager and every instance to exit", 10*time.Second, func() bool {
		for _, pid := range append([]int{manager}, before[e.ports[0]], before[e.ports[1]]) {
			if syscall.Kill(pid, 0) == nil {
				return false
			}
		}
		return true
	})
	for _, port := range e.ports {
		if testnet.PortOpen(port) {
			t.Errorf("port %d still open after down", port)
		}
	}
}
