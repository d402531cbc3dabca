package cmd

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// counted is a config running the test child that counts its answers in
// http_requests_total, answering 500 to failPercent% of them.
func counted(message string, failPercent int) string {
	return testChild("counted", "MESSAGE="+message, "FAIL_PERCENT="+strconv.Itoa(failPercent)) +
		"reload:\n  handoff: socket\nready:\n  timeout: 5s\n  interval: 20ms\n"
}

// A canary whose new code answers 500 to 10% of its requests is put back
// on the old code within the watch, the reload exits 1 with the evidence,
// and the ports it never reached keep serving without a failure.
func TestCanaryAnswering5xxIsRolledBack(t *testing.T) {
	e := newEnv(t, 3, counted("v1", 0))
	e.mustRun("up", "-d")
	before := e.pids()
	ports := slices.Sorted(slices.Values(e.ports))
	canary, untouched := ports[0], ports[1:]
	load := startHammer(ports) // nginx would spread traffic over every port
	e.writeConfig(counted("v2", 10))
	out, errOut, code := e.run("reload", "--canary", "1", "--watch", "1500ms")
	load.halt()
	t.Logf("reload:\n%s%s", out, errOut)
	// The app fails 10% of requests at random: the share seen is near it.
	share := regexp.MustCompile(strconv.Itoa(canary) + `: answered 5xx to (\d+\.\d)% of`).FindStringSubmatch(errOut)
	if code != 1 || !strings.Contains(errOut, "the canary failed") || share == nil {
		t.Fatalf("reload --canary: exit %d; want exit 1 naming port %d's share of 5xx", code, canary)
	}
	if pct, _ := strconv.ParseFloat(share[1], 64); pct < 5 || pct > 20 {
		t.Errorf("port %d: 5xx share %s%%, want about 10%%", canary, share[1])
	}
	if !strings.Contains(out, "watched") || !strings.Contains(out, "watching") {
		t.Errorf("no progress while watching:\n%s", out)
	}
	after := e.pids()
	for _, port := range untouched {
		if after[port] != before[port] {
			t.Errorf("port %d: pid %d -> %d, want it untouched", port, before[port], after[port])
		}
	}
	for _, port := range ports {
		if body, err := getRetrying(port); body != "v1" {
			t.Errorf("port %d: %q, %v; want the old code, v1", port, body, err)
		}
	}
	for _, msg := range load.errs {
		for _, port := range untouched {
			if strings.HasPrefix(msg, "port "+strconv.Itoa(port)+":") {
				t.Errorf("a request to an untouched port failed: %s", msg)
			}
		}
	}
}

// A canary that holds up for the watch lets the reload go on to every port.
func TestCanaryThatHoldsUpRollsOutTheRest(t *testing.T) {
	e := newEnv(t, 3, counted("v1", 0))
	e.mustRun("up", "-d")
	load := startHammer(e.ports)
	e.writeConfig(counted("v2", 0))
	out, errOut, code := e.run("reload", "--canary", "1", "--watch", "1s")
	load.halt()
	if code != 0 || !strings.Contains(out, "held up for 1s") {
		t.Fatalf("reload --canary: exit %d\n%s%s\nwant exit 0 and the canary held up", code, out, errOut)
	}
	for _, port := range e.ports {
		if body, err := getRetrying(port); body != "v2" {
			t.Errorf("port %d: %q, %v; want the new code, v2", port, body, err)
		}
	}
}

// A canary that crashes during the watch is rolled back, with the restart
// as the evidence, whether or not the app counts its requests.
func TestCanaryThatCrashesIsRolledBack(t *testing.T) {
	e := newEnv(t, 2, counted("v1", 0))
	e.mustRun("up", "-d")
	e.writeConfig(testChild("crash-after", "CRASH_AFTER=300ms") + "reload:\n  handoff: socket\n")
	_, errOut, code := e.run("reload", "--canary", "1", "--watch", "3s")
	if code != 1 || !strings.Contains(errOut, "restarted") {
		t.Fatalf("reload --canary: exit %d, stderr %q; want exit 1 and the restart as evidence", code, errOut)
	}
	for _, port := range e.ports {
		if body, err := getRetrying(port); body != "v1" {
			t.Errorf("port %d: %q, %v; want the old code, v1", port, body, err)
		}
	}
}

// getRetrying is GET / on port, tried a few times: a counted child
// answers 500 on purpose now and then.
func getRetrying(port int) (body string, err error) {
	for range 3 {
		if body, err = testnet.Get(port); err == nil {
			return body, nil
		}
	}
	return body, err
}
