package manager

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/internal/testnet"
)

// An instance found unhealthy while another rollout holds the manager's
// turn is replaced only once that rollout is over, through Restart: the
// new instance carries on the port's restarts, one more for liveness, and
// the replacement is not counted as a reload. The other port is untouched.
func TestUnhealthyInstanceIsReplacedAfterTheRolloutInProgress(t *testing.T) {
	dir := t.TempDir()
	ports := testnet.FreePorts(t, 2)
	path := filepath.Join(dir, "config.yaml")
	text := fmt.Sprintf(`ports: [%d, %d]
command: [%q, "-test.run=^$"]
env: {HELLOMGR_TEST_CHILD: notify-ready}
reload: {handoff: socket}
ready: {notify: true, timeout: 10s}
stop: {timeout: 5s}
metrics: {address: "off"}
liveness: {http: /, interval: 100ms, timeout: 80ms, failures: 2}
`, ports[0], ports[1], os.Args[0])
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m := New(cfg, Options{})
	if err := m.Prepare(); err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	if err := m.StartAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	status := func() map[int]control.InstanceStatus {
		out := map[int]control.InstanceStatus{}
		for _, st := range m.Report().Instances {
			out[st.Port] = st
		}
		return out
	}
	before := status()
	victim, other := ports[0], ports[1]

	_, done, err := m.beginRollout(context.Background(), "a test") // a rollout in progress
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(before[victim].PID, syscall.SIGSTOP)
	testnet.WaitFor(t, "the frozen instance to be found unhealthy", 20*time.Second, func() bool {
		return strings.Contains(status()[victim].LastError, "unhealthy (liveness)")
	})
	if pid := status()[victim].PID; pid != before[victim].PID {
		t.Errorf("port %d replaced (pid %d -> %d) while another rollout held the turn", victim, before[victim].PID, pid)
	}
	done()
	testnet.WaitFor(t, "the replacement after the rollout", 20*time.Second, func() bool {
		st := status()[victim]
		return st.PID != before[victim].PID && st.ByReason["liveness"] == 1
	})
	after := status()
	if st := after[victim]; st.Reloads != 0 || st.Restarts != 1 || !strings.HasPrefix(st.LastError, "replaced: pid ") {
		t.Errorf("port %d: reloads %d, restarts %v, last error %q; want no reload, 1 restart for liveness, why", victim, st.Reloads, st.ByReason, st.LastError)
	}
	if after[other].PID != before[other].PID {
		t.Errorf("port %d: pid %d -> %d, want it untouched", other, before[other].PID, after[other].PID)
	}
}
