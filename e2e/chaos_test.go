package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// chaosFigures are the figures `go -C bench run ./chaos -json` writes.
type chaosFigures struct {
	Figures struct {
		Seed           uint64 `json:"seed"`
		Faults         int    `json:"faults"`
		Requests       int64  `json:"requests"`
		Deaths         int    `json:"manager_deaths"`
		Panics         int    `json:"manager_panics"`
		Violations     int    `json:"invariant_violations"`
		FailedPromise0 int    `json:"failed_requests_on_swaps_promising_0"`
		FailedOutside  int    `json:"failed_requests_outside_faults"`
		Leftovers      int    `json:"processes_left_after_down"`
		LinesLost      int    `json:"log_lines_lost"`
		LinesSeen      int    `json:"log_lines_seen"`
	} `json:"figures"`
}

// TestChaosRunLeavesTheServiceWhole runs the chaos bench for 40 s: the
// built-in server and a Tornado app under two managers, each behind a
// real nginx under keep-alive GET and POST load, with faults drawn from
// a seeded source (kill -9 of instances and hook children, SIGSTOP,
// reloads with and without a canary, restart/stop/start, upgrades, signals
// alone and in pairs 5-30 ms apart, SIGTERM, a config edit during an
// upgrade, a full disk for the logs, a control client that stops
// reading). What a user would notice must be 0: a manager that died or
// panicked, a port in no documented state or a status that does not
// answer, a request failed by a swap that promises none, a process left
// after down, a log line lost. HELLOMGR_CHAOS_SEED replays a seed.
func TestChaosRunLeavesTheServiceWhole(t *testing.T) {
	need(t, "/usr/sbin/nginx", "nginx")
	needTornado(t)
	if os.Geteuid() != 0 {
		t.Fatal("the chaos run mounts a tmpfs for the logs: run as root")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("HELLOMGR_CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("HELLOMGR_CHAOS_SEED=%q: want a number", s)
		}
	}
	replay := "HELLOMGR_CHAOS_SEED=" + strconv.FormatUint(seed, 10) + " go test -run TestChaosRun ./e2e/ (or go -C bench run ./chaos -seed " + strconv.FormatUint(seed, 10) + " -duration 40s)"
	jsonPath := filepath.Join(t.TempDir(), "chaos.json")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "-C", "../bench", "run", "./chaos",
		"-seed", strconv.FormatUint(seed, 10), "-duration", "40s", "-json", jsonPath, "-bin", hellomgrBin)
	cmd.WaitDelay = time.Minute // Ctrl-C reaches the bench, which cleans up
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	t.Logf("chaos run, seed %d:\n%s", seed, out.String())
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatalf("the chaos run wrote no figures (%v; run: %v); replay: %s", err, runErr, replay)
	}
	var got chaosFigures
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("figures: %v\n%s", err, b)
	}
	f := got.Figures
	// The run must have done something, or its zeros mean nothing.
	if f.Faults < 5 || f.Requests < 1000 || f.LinesSeen < 500 {
		t.Fatalf("the run did too little: %d faults, %d requests, %d numbered log lines; want at least 5, 1000, 500", f.Faults, f.Requests, f.LinesSeen)
	}
	for _, c := range []struct {
		what string
		n    int
	}{
		{"manager deaths", f.Deaths},
		{"panics in the manager log", f.Panics},
		{"invariant violations (a port in no documented state, a status that does not answer)", f.Violations},
		{"requests failed during swaps that promise 0", f.FailedPromise0},
		{"requests failed outside any fault", f.FailedOutside},
		{"processes left after down", f.Leftovers},
		{"log lines lost", f.LinesLost},
	} {
		if c.n != 0 {
			t.Errorf("%s: got %d, want 0 (see the run's output above; replay: %s)", c.what, c.n, replay)
		}
	}
}
