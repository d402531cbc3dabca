package metrics

import (
	"bytes"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/hellomgr/hellomgr/proc"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestLint runs client_golang's linter, the one promtool check metrics
// uses, on everything Handler serves.
func TestLint(t *testing.T) {
	src := twoInstances()
	for name, reg := range map[string]prometheus.Gatherer{
		"/metrics":         managerRegistry(src, proc.Read),
		"/probe?port=8001": probeRegistry(src.snap.Instances[0], fakeRead),
		"/probe?port=8002": probeRegistry(src.snap.Instances[1], fakeRead),
	} {
		problems, err := testutil.GatherAndLint(reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s: %s", name, p.Metric, p.Text)
		}
	}
	// And what the hand-written /metrics serves.
	_, body := get(t, newHandler(src, proc.Read), "/metrics")
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("GET /metrics: %s: %s", p.Metric, p.Text)
	}
}

// TestPromtool runs Prometheus's own promtool on real scrapes. It fails,
// rather than skips, without promtool: a skipped test is easily missed.
func TestPromtool(t *testing.T) {
	promtool := lookPromtool(t)
	h := Handler(twoInstances())
	for _, target := range []string{"/metrics", probeURL(8001), probeURL(8002)} {
		code, body := get(t, h, target)
		if code != http.StatusOK {
			t.Fatalf("GET %s: got status %d; body:\n%s", target, code, body)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewBufferString(body)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("GET %s: promtool check metrics: %v\n%s", target, err, out)
		}
	}
}

// lookPromtool finds promtool, which Debian packages with Prometheus.
func lookPromtool(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"promtool", "/usr/bin/promtool"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatal("promtool not found: run apt-get install -y prometheus")
	return ""
}
