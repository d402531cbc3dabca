package metrics

import (
	"net/http"
	"os"
	"testing"
	"time"
)

// BenchmarkProbe64 measures one /probe scrape with 64 instances in the
// snapshot, reading the test binary's own /proc entries as the instance's
// process: the whole request but the network. The target is under 5 ms.
//
//	go test -run '^$' -bench Probe64 -benchmem ./metrics/
func BenchmarkProbe64(b *testing.B) {
	instances := make([]Instance, 64)
	for i := range instances {
		instances[i] = Instance{
			Port: 8001 + i, PID: os.Getpid(), State: "ready", StartTime: time.Now(),
			Restarts: map[string]uint64{"exited": 1, "crashed": 2, "killed": 3, "reload": 4},
			Command:  "builtin",
		}
	}
	h := Handler(fakeSource{Snapshot{Instances: instances}})
	target := probeURL(8064) // the last one: find walks them all
	for b.Loop() {
		if code, body := get(b, h, target); code != http.StatusOK {
			b.Fatalf("GET %s: got %d %s", target, code, body)
		}
	}
}
