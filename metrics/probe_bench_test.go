package metrics

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

// BenchmarkProbe64 measures one /probe scrape with 64 instances in the
// snapshot, reading the test binary's own /proc entries as the instance's
// process: the whole request but the network. The target is under 5 ms.
//
//	go test -run '^$' -bench . -benchmem ./metrics/
func BenchmarkProbe64(b *testing.B) { benchScrape(b, 64, probeURL(8064), 0) }

// BenchmarkProbe256 is a /probe scrape with 256 instances, asking for
// gzip as Prometheus does. The target is 0.3 ms of CPU.
func BenchmarkProbe256(b *testing.B) { benchScrape(b, 256, probeURL(8256), 0) }

// BenchmarkMetrics256 is a scrape of the manager's /metrics with 256
// instances, with the test binary holding 1,500 descriptors as a manager
// of 256 instances does. The target is 1 ms of CPU.
func BenchmarkMetrics256(b *testing.B) { benchScrape(b, 256, "/metrics", 1500) }

func benchScrape(b *testing.B, n int, target string, fds int) {
	for range fds {
		f, err := os.Open(os.DevNull)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
	}
	instances := make([]Instance, n)
	for i := range instances {
		instances[i] = Instance{
			Port: 8001 + i, PID: os.Getpid(), State: "ready", StartTime: time.Now(),
			Restarts: map[string]uint64{"exited": 1, "crashed": 2, "killed": 3, "reload": 4},
			Command:  "builtin",
		}
	}
	h := Handler(fakeSource{Snapshot{Instances: instances}})
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: got %d %s", target, rec.Code, rec.Body)
		}
	}
}
