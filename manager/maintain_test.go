package manager

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/internal/testnet"
)

// A port the running config does not have (one added to the file, not yet
// reloaded) is refused in one plain sentence, by each maintenance command.
func TestMaintenanceOfAnUnconfiguredPortSaysSoOnce(t *testing.T) {
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "config.yaml"), []byte("ports: [8001, 8002]\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := New(cfg, Options{})
	want := "port 31999 is not in the running config (configured: 8001, 8002); a port added to the file starts with hellomgr reload"
	for name, op := range map[string]func(context.Context, []int, control.Progress) error{
		"restart": m.Restart, "stop": m.StopPorts, "start": m.StartPorts,
	} {
		if err := op(context.Background(), []int{31999}, nil); err == nil || err.Error() != want {
			t.Errorf("%s 31999: got %v, want %q", name, err, want)
		}
	}
}

// Found by the generated sequences: `start` of a port in backoff started a
// new instance while the old one, out of the port's sight, went on to
// start a process of its own at the end of its backoff, which nothing
// stopped, not even a shutdown.
func TestStartOfAPortInBackoffLeavesNoSecondProcess(t *testing.T) {
	r := newRig(t, fakeSwaps["handoff + READY=1"], 1)
	port := r.ports[0]
	r.fake.Process(r.pids()[0]).Kill()
	testnet.WaitFor(t, "the port in backoff", 5*time.Second, func() bool { return r.m.Instances()[0].State == instance.Backoff })
	if err := r.m.StartPorts(context.Background(), []int{port}, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // past the old instance's backoff (restart.backoff: 100ms)
	shown := r.pids()[0]
	for _, pid := range r.fake.Started() {
		if f := r.fake.Process(pid); pid != shown && !done(f.Done()) {
			t.Errorf("pid %d runs beside the port's pid %d", pid, shown)
		}
	}
}
