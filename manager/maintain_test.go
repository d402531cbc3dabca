package manager

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
)

// A port the running config does not have (one added to the file, not yet
// reloaded) is refused in one plain sentence, by each maintenance command.
func TestMaintenanceOfAnUnconfiguredPortSaysSoOnce(t *testing.T) {
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "config.yaml"), []byte("ports: [8001, 8002]\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := New(cfg, Options{})
	want := "port 31999 is not in the running config (its ports: 8001, 8002); a port added to the file starts with hellomgr reload"
	for name, op := range map[string]func(context.Context, []int, control.Progress) error{
		"restart": m.Restart, "stop": m.StopPorts, "start": m.StartPorts,
	} {
		if err := op(context.Background(), []int{31999}, nil); err == nil || err.Error() != want {
			t.Errorf("%s 31999: got %v, want %q", name, err, want)
		}
	}
}
