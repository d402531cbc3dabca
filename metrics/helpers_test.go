package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/proc"
)

// fakeSource returns the same snapshot at every scrape.
type fakeSource struct{ snap Snapshot }

func (s fakeSource) Snapshot() Snapshot { return s.snap }

// fakePID is the one process fakeRead knows; any other has gone.
const fakePID = 4242

var fakeStart = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func fakeRead(pid int) (proc.Stats, error) {
	if pid != fakePID {
		return proc.Stats{}, os.ErrNotExist
	}
	return proc.Stats{CPUSeconds: 1.5, RSSBytes: 10 << 20, OpenFDs: 12, Threads: 7, StartTime: fakeStart.Add(time.Second)}, nil
}

// twoInstances is a manager with one instance ready and one backing off
// after a crash.
func twoInstances() fakeSource {
	var h Histogram
	for _, d := range []time.Duration{800 * time.Millisecond, 4 * time.Second, 45 * time.Second, time.Hour} {
		h.Observe(d)
	}
	return fakeSource{Snapshot{
		Instances: []Instance{
			{Port: 8001, PID: fakePID, State: "ready", StartTime: fakeStart,
				Restarts: map[string]uint64{"exited": 1, "reload": 3}, LastExitCode: 0, Command: "builtin"},
			{Port: 8002, State: "backoff",
				Restarts: map[string]uint64{"crashed": 2}, LastExitCode: -1, Command: "builtin"},
		},
		Rollouts: Rollouts{Started: 5, Succeeded: 3, Failed: 1, LastDuration: 45 * time.Second, Durations: h},
	}}
}

// get serves one GET request to h and returns the status and body.
func get(t testing.TB, h http.Handler, target string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	body, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Code, string(body)
}

func probeURL(port int) string { return "/probe?port=" + strconv.Itoa(port) }
