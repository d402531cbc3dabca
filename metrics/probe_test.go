package metrics

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/hellomgr/hellomgr/proc"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestProbeReady(t *testing.T) {
	srv := httptest.NewServer(newHandler(twoInstances(), fakeRead))
	defer srv.Close()
	const want = `
# HELP hellomgr_instance_info Always 1; labels describe the instance.
# TYPE hellomgr_instance_info gauge
hellomgr_instance_info{command="builtin"} 1
# HELP hellomgr_instance_last_exit_code Exit code of the instance's last process; -1 when a signal killed it or none has exited.
# TYPE hellomgr_instance_last_exit_code gauge
hellomgr_instance_last_exit_code 0
# HELP hellomgr_instance_restarts_total Restarts of the instance, by reason.
# TYPE hellomgr_instance_restarts_total counter
hellomgr_instance_restarts_total{reason="exited"} 1
hellomgr_instance_restarts_total{reason="reload"} 3
# HELP hellomgr_instance_start_time_seconds When hellomgr started the current process, in seconds since the epoch.
# TYPE hellomgr_instance_start_time_seconds gauge
hellomgr_instance_start_time_seconds 1.7776368e+09
# HELP hellomgr_instance_state 1 for the instance's current state, 0 for the others.
# TYPE hellomgr_instance_state gauge
hellomgr_instance_state{state="backoff"} 0
hellomgr_instance_state{state="failed"} 0
hellomgr_instance_state{state="ready"} 1
hellomgr_instance_state{state="starting"} 0
hellomgr_instance_state{state="stopped"} 0
hellomgr_instance_state{state="stopping"} 0
# HELP hellomgr_instance_up 1 when the instance is ready and its process runs, else 0.
# TYPE hellomgr_instance_up gauge
hellomgr_instance_up 1
# HELP hellomgr_log_dropped_lines_total Lines of the instance's output lost: a full disk, a removed log folder, a journal that refused them.
# TYPE hellomgr_log_dropped_lines_total counter
hellomgr_log_dropped_lines_total 0
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.5
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 12
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.048576e+07
# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1.777636801e+09
# HELP process_threads Number of OS threads in the process.
# TYPE process_threads gauge
process_threads 7
`
	if err := testutil.ScrapeAndCompare(srv.URL+probeURL(8001), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestProbeNoProcess checks an instance without a process: it is down,
// its state and restarts still show, and there are no process series.
func TestProbeNoProcess(t *testing.T) {
	srv := httptest.NewServer(newHandler(twoInstances(), fakeRead))
	defer srv.Close()
	const want = `
# HELP hellomgr_instance_info Always 1; labels describe the instance.
# TYPE hellomgr_instance_info gauge
hellomgr_instance_info{command="builtin"} 1
# HELP hellomgr_instance_last_exit_code Exit code of the instance's last process; -1 when a signal killed it or none has exited.
# TYPE hellomgr_instance_last_exit_code gauge
hellomgr_instance_last_exit_code -1
# HELP hellomgr_instance_restarts_total Restarts of the instance, by reason.
# TYPE hellomgr_instance_restarts_total counter
hellomgr_instance_restarts_total{reason="crashed"} 2
# HELP hellomgr_instance_state 1 for the instance's current state, 0 for the others.
# TYPE hellomgr_instance_state gauge
hellomgr_instance_state{state="backoff"} 1
hellomgr_instance_state{state="failed"} 0
hellomgr_instance_state{state="ready"} 0
hellomgr_instance_state{state="starting"} 0
hellomgr_instance_state{state="stopped"} 0
hellomgr_instance_state{state="stopping"} 0
# HELP hellomgr_instance_up 1 when the instance is ready and its process runs, else 0.
# TYPE hellomgr_instance_up gauge
hellomgr_instance_up 0
# HELP hellomgr_log_dropped_lines_total Lines of the instance's output lost: a full disk, a removed log folder, a journal that refused them.
# TYPE hellomgr_log_dropped_lines_total counter
hellomgr_log_dropped_lines_total 0
`
	if err := testutil.ScrapeAndCompare(srv.URL+probeURL(8002), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestProbeGone reads a real process that has exited since the snapshot:
// the scrape succeeds and says the instance is down, though the manager
// still believes it ready.
func TestProbeGone(t *testing.T) {
	cmd := exec.Command("sleep", "0")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	src := fakeSource{Snapshot{Instances: []Instance{{Port: 8001, PID: cmd.Process.Pid, State: "ready"}}}}
	code, body := get(t, Handler(src), probeURL(8001))
	if code != http.StatusOK {
		t.Fatalf("port 8001 (pid %d gone): got status %d, want 200; body:\n%s", cmd.Process.Pid, code, body)
	}
	if !strings.Contains(body, "\nhellomgr_instance_up 0\n") {
		t.Errorf("port 8001 (pid %d gone): want hellomgr_instance_up 0 in:\n%s", cmd.Process.Pid, body)
	}
	if strings.Contains(body, "process_") {
		t.Errorf("port 8001 (pid %d gone): want no process series in:\n%s", cmd.Process.Pid, body)
	}
}

// TestProbeLive reads the test binary itself as the instance's process.
func TestProbeLive(t *testing.T) {
	inst := Instance{Port: 8001, PID: os.Getpid(), State: "ready"}
	names := []string{"hellomgr_instance_up", "process_cpu_seconds_total", "process_resident_memory_bytes",
		"process_open_fds", "process_threads", "process_start_time_seconds"}
	n, err := testutil.GatherAndCount(probeRegistry(inst, proc.Read), names...)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(names) {
		t.Errorf("port 8001 (pid %d): got %d series of %v, want %d", inst.PID, n, names, len(names))
	}
}

// TestProbeReadError checks a process that runs but cannot be read: the
// process series are missing, the rest is served with status 200.
func TestProbeReadError(t *testing.T) {
	denied := func(int) (proc.Stats, error) { return proc.Stats{}, os.ErrPermission }
	src := fakeSource{Snapshot{Instances: []Instance{{Port: 8001, PID: 1, State: "ready"}}}}
	code, body := get(t, newHandler(src, denied), probeURL(8001))
	if code != http.StatusOK {
		t.Fatalf("port 8001 unreadable: got status %d, want 200; body:\n%s", code, body)
	}
	if !strings.Contains(body, "\nhellomgr_instance_up 1\n") || strings.Contains(body, "process_") {
		t.Errorf("port 8001 unreadable: want hellomgr_instance_up 1 and no process series in:\n%s", body)
	}
}

func TestProbeBadRequest(t *testing.T) {
	h := newHandler(twoInstances(), fakeRead)
	for _, tc := range []struct{ target, want string }{
		{"/probe", "missing port parameter: want /probe?port=N"},
		{"/probe?target=8001", "missing port parameter: want /probe?port=N"},
		{"/probe?port=", `port "" is not a number from 1 to 65535`},
		{"/probe?port=abc", `port "abc" is not a number from 1 to 65535`},
		{"/probe?port=0", "port 0 is not a number from 1 to 65535"},
		{"/probe?port=-1", "port -1 is not a number from 1 to 65535"},
		{"/probe?port=70000", "port 70000 is not a number from 1 to 65535"},
		{"/probe?port=99999999999999999999", `port "99999999999999999999" is not a number from 1 to 65535`},
		{"/probe?port=08001", `port "08001" is not a number from 1 to 65535`},
		{"/probe?port=%2B8001", `port "+8001" is not a number from 1 to 65535`},
		{"/probe?port=8001%0Aup%201", `port "8001\nup 1" is not a number from 1 to 65535`},
		{"/probe?port=8001&port=8002", "port parameter given 2 times, want once"},
		{"/probe?port=8001&port=8001", "port parameter given 2 times, want once"},
		{"/probe?port=%zz", `malformed query: invalid URL escape "%zz"`},
		{"/probe?port=8001;x=1", "malformed query: invalid semicolon separator in query"},
		{"/probe?port=8003", "port 8003 is not configured"},
	} {
		code, body := get(t, h, tc.target)
		if code != http.StatusBadRequest || body != tc.want+"\n" {
			t.Errorf("GET %s: got %d %q, want 400 %q", tc.target, code, body, tc.want+"\n")
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	h := newHandler(twoInstances(), fakeRead)
	for _, target := range []string{"/probe?port=8001", "/metrics"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, target, nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: got status %d, want 405", target, rec.Code)
		}
	}
}

// TestConcurrentScrapes runs scrapes side by side, for the race detector.
func TestConcurrentScrapes(t *testing.T) {
	h := Handler(twoInstances())
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		target := []string{probeURL(8001), probeURL(8002), "/metrics"}[i%3]
		wg.Go(func() {
			if code, body := get(t, h, target); code != http.StatusOK {
				errs <- errors.New(target + ": " + body)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestProbeOddLabels checks label values the manager should not send but
// might: an empty state, reason and command, and invalid UTF-8.
func TestProbeOddLabels(t *testing.T) {
	inst := Instance{Port: 8001, Restarts: map[string]uint64{"": 1, "unknown": 2, "bad\xff": 3}}
	const want = `
# HELP hellomgr_instance_restarts_total Restarts of the instance, by reason.
# TYPE hellomgr_instance_restarts_total counter
hellomgr_instance_restarts_total{reason="bad�"} 3
hellomgr_instance_restarts_total{reason="unknown"} 3
# HELP hellomgr_instance_state 1 for the instance's current state, 0 for the others.
# TYPE hellomgr_instance_state gauge
hellomgr_instance_state{state="backoff"} 0
hellomgr_instance_state{state="failed"} 0
hellomgr_instance_state{state="ready"} 0
hellomgr_instance_state{state="starting"} 0
hellomgr_instance_state{state="stopped"} 0
hellomgr_instance_state{state="stopping"} 0
hellomgr_instance_state{state="unknown"} 1
`
	err := testutil.GatherAndCompare(probeRegistry(inst, fakeRead), strings.NewReader(want),
		"hellomgr_instance_restarts_total", "hellomgr_instance_state")
	if err != nil {
		t.Error(err)
	}
}
