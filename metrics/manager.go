package metrics

import (
	"math"
	"slices"
	"strings"

	"github.com/hellomgr/hellomgr/internal/bugs"
)

// The manager's own series, served at /metrics. Each is a name and a help
// text, so that the hand-written exposition of /metrics and the tests'
// collector (collectors_test.go) say the same.
var (
	instancesSeries = series{"hellomgr_instances",
		"Configured instances, by state."}
	internalErrorsSeries = series{"hellomgr_internal_errors_total",
		"Bugs in hellomgr caught and survived: a panic recovered, a state change the transition table lacks (each logged with its stack)."}
	rolloutsStartedSeries = series{"hellomgr_rollouts_started_total",
		"Rollouts started; those not counted in hellomgr_rollouts_total are running."}
	rolloutsSeries = series{"hellomgr_rollouts_total",
		"Rollouts finished, by result (succeeded, failed)."}
	rolloutLastSeries = series{"hellomgr_rollout_last_duration_seconds",
		"How long the last finished rollout took."}
	rolloutDurationSeries = series{"hellomgr_rollout_duration_seconds",
		"How long finished rollouts took, succeeded or failed."}
)

// writeManager writes the manager-level series, as promhttp writes
// managerCollector's: families by name, samples by label value.
func writeManager(e *exposition, counts *StateCounts, r Rollouts) {
	writeInstanceCounts(e, counts)
	e.one(internalErrorsSeries.name, internalErrorsSeries.help, "counter", float64(bugs.Count()))
	h := &r.Durations
	name := rolloutDurationSeries.name
	e.family(name, rolloutDurationSeries.help, "histogram")
	var n uint64
	for i, bound := range rolloutBuckets {
		n += h.counts[i]
		e.bound(name, "_bucket", "le", bound, float64(n))
	}
	e.bound(name, "_bucket", "le", math.Inf(1), float64(h.count))
	e.suffixed(name, "_sum", h.sum)
	e.suffixed(name, "_count", float64(h.count))
	if r.LastDuration > 0 {
		e.one(rolloutLastSeries.name, rolloutLastSeries.help, "gauge", r.LastDuration.Seconds())
	}
	e.one(rolloutsStartedSeries.name, rolloutsStartedSeries.help, "counter", float64(r.Started))
	e.family(rolloutsSeries.name, rolloutsSeries.help, "counter")
	e.labelled(rolloutsSeries.name, "result", "failed", float64(r.Failed))
	e.labelled(rolloutsSeries.name, "result", "succeeded", float64(r.Succeeded))
}

// countStates counts the instances of src by state into c, through
// CountSource when src offers it, else from a whole snapshot, and
// returns the rollouts.
func countStates(src Source, c *StateCounts) Rollouts {
	if cs, ok := src.(CountSource); ok {
		return cs.CountStates(c)
	}
	snap := src.Snapshot()
	for _, inst := range snap.Instances {
		c.Add(inst.State)
	}
	return snap.Rollouts
}

// writeInstanceCounts writes hellomgr_instances: every known state, and
// any other an instance is in, by label value.
func writeInstanceCounts(e *exposition, c *StateCounts) {
	other := c.other
	slices.SortFunc(other, func(a, b stateCount) int { return strings.Compare(a.state, b.state) })
	name := instancesSeries.name
	e.family(name, instancesSeries.help, "gauge")
	for i, s := range sortedStates {
		for len(other) > 0 && other[0].state < s {
			e.labelled(name, "state", other[0].state, float64(other[0].n))
			other = other[1:]
		}
		e.labelled(name, "state", s, float64(c.known[i]))
	}
	for _, o := range other {
		e.labelled(name, "state", o.state, float64(o.n))
	}
}
