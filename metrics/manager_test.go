package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestManagerExposition(t *testing.T) {
	const want = `
# HELP hellomgr_instances Configured instances, by state.
# TYPE hellomgr_instances gauge
hellomgr_instances{state="backoff"} 1
hellomgr_instances{state="failed"} 0
hellomgr_instances{state="ready"} 1
hellomgr_instances{state="starting"} 0
hellomgr_instances{state="stopped"} 0
hellomgr_instances{state="stopping"} 0
# HELP hellomgr_internal_errors_total Bugs in hellomgr caught and survived: a panic recovered, a state change the transition table lacks (each logged with its stack).
# TYPE hellomgr_internal_errors_total counter
hellomgr_internal_errors_total 0
# HELP hellomgr_rollout_duration_seconds How long finished rollouts took, succeeded or failed.
# TYPE hellomgr_rollout_duration_seconds histogram
hellomgr_rollout_duration_seconds_bucket{le="1"} 1
hellomgr_rollout_duration_seconds_bucket{le="2.5"} 1
hellomgr_rollout_duration_seconds_bucket{le="5"} 2
hellomgr_rollout_duration_seconds_bucket{le="10"} 2
hellomgr_rollout_duration_seconds_bucket{le="30"} 2
hellomgr_rollout_duration_seconds_bucket{le="60"} 3
hellomgr_rollout_duration_seconds_bucket{le="120"} 3
hellomgr_rollout_duration_seconds_bucket{le="300"} 3
hellomgr_rollout_duration_seconds_bucket{le="600"} 3
hellomgr_rollout_duration_seconds_bucket{le="1800"} 3
hellomgr_rollout_duration_seconds_bucket{le="+Inf"} 4
hellomgr_rollout_duration_seconds_sum 3649.8
hellomgr_rollout_duration_seconds_count 4
# HELP hellomgr_rollout_last_duration_seconds How long the last finished rollout took.
# TYPE hellomgr_rollout_last_duration_seconds gauge
hellomgr_rollout_last_duration_seconds 45
# HELP hellomgr_rollouts_started_total Rollouts started; those not counted in hellomgr_rollouts_total are running.
# TYPE hellomgr_rollouts_started_total counter
hellomgr_rollouts_started_total 5
# HELP hellomgr_rollouts_total Rollouts finished, by result (succeeded, failed).
# TYPE hellomgr_rollouts_total counter
hellomgr_rollouts_total{result="failed"} 1
hellomgr_rollouts_total{result="succeeded"} 3
`
	if err := testutil.CollectAndCompare(managerCollector{twoInstances()}, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestManagerEmpty checks a manager before its first rollout, with an
// instance in a state hellomgr does not know: every known state still has
// its series, the unknown one gets one, and no last duration is invented.
func TestManagerEmpty(t *testing.T) {
	src := fakeSource{Snapshot{Instances: []Instance{{Port: 8001, State: "confused"}}}}
	const want = `
# HELP hellomgr_instances Configured instances, by state.
# TYPE hellomgr_instances gauge
hellomgr_instances{state="backoff"} 0
hellomgr_instances{state="confused"} 1
hellomgr_instances{state="failed"} 0
hellomgr_instances{state="ready"} 0
hellomgr_instances{state="starting"} 0
hellomgr_instances{state="stopped"} 0
hellomgr_instances{state="stopping"} 0
`
	c := managerCollector{src}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "hellomgr_instances"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "hellomgr_rollout_last_duration_seconds"); n != 0 {
		t.Errorf("before any rollout: got %d hellomgr_rollout_last_duration_seconds series, want 0", n)
	}
}

// TestHistogramBounds checks that a duration on a bucket's upper bound
// counts in that bucket, as Prometheus's "le" says.
func TestHistogramBounds(t *testing.T) {
	var h Histogram
	h.Observe(5 * time.Second)
	h.Observe(1800 * time.Second)
	h.Observe(1801 * time.Second)
	b := h.cumulative()
	for bound, want := range map[float64]uint64{2.5: 0, 5: 1, 10: 1, 1800: 2} {
		if b[bound] != want {
			t.Errorf("bucket le=%v: got %d, want %d", bound, b[bound], want)
		}
	}
	if h.count != 3 {
		t.Errorf("count: got %d, want 3", h.count)
	}
}
