package metrics

import (
	"slices"
	"time"
)

// States lists the states of an instance, as Instance.State spells them.
// hellomgr_instances and hellomgr_instance_state report each of them, at 0
// when no instance is in it, so that a series does not vanish when its state
// empties; a state not in this list is reported too, but only while it is
// current.
var States = [...]string{"starting", "ready", "stopping", "backoff", "failed", "stopped"}

// Source gives the manager's state at scrape time. Snapshot is called once
// per scrape, from the HTTP server's goroutines, so it must be safe for
// concurrent use. It returns a copy that the caller may keep and read while
// the manager goes on: Restarts maps included, which are read during the
// scrape.
type Source interface {
	Snapshot() Snapshot
}

// PortSource is a Source that can also give one instance alone. /probe
// uses it when the Source offers it, so that a scrape of one instance
// costs the same with 4 instances or 1,024, where a whole Snapshot copies
// every instance. Safe for concurrent use, as Snapshot is.
type PortSource interface {
	Source
	// SnapshotPort returns the instance on port as Snapshot would give
	// it, or false when port is not configured.
	SnapshotPort(port int) (Instance, bool)
}

// CountSource is a Source that can also give what /metrics reports alone:
// how many instances are in each state, and the rollouts. /metrics uses it
// when the Source offers it, so that a scrape costs the same with 4
// instances or 1,024, where a whole Snapshot copies every instance, its
// Restarts map included. Safe for concurrent use, as Snapshot is.
type CountSource interface {
	Source
	// CountStates adds the state of every instance, as Snapshot would
	// give it, to c, and returns the rollouts.
	CountStates(c *StateCounts) Rollouts
}

// StateCounts counts instances by state. The zero value is empty and
// ready to use; it is not safe for concurrent use.
type StateCounts struct {
	known [len(States)]int // by index in sortedStates
	other []stateCount     // states hellomgr does not know; seldom any
}

type stateCount struct {
	state string
	n     int
}

// Add counts one instance in state (one of States, or any other).
func (c *StateCounts) Add(state string) {
	state = labelValue(state)
	if i, ok := slices.BinarySearch(sortedStates, state); ok {
		c.known[i]++
		return
	}
	if i := slices.IndexFunc(c.other, func(o stateCount) bool { return o.state == state }); i >= 0 {
		c.other[i].n++
		return
	}
	c.other = append(c.other, stateCount{state, 1})
}

// reset empties c, keeping its room.
func (c *StateCounts) reset() {
	c.known = [len(States)]int{}
	c.other = c.other[:0]
}

// Snapshot is the manager's state at one moment.
type Snapshot struct {
	Instances []Instance
	Rollouts  Rollouts
}

// Instance is what the manager knows of one port at scrape time.
type Instance struct {
	Port      int
	PID       int       // 0 when no process runs
	State     string    // one of States
	StartTime time.Time // when hellomgr started the current process; zero when none
	// Restarts counts the instance's restarts by reason: "exited",
	// "crashed", "killed" (by a signal), "reload"... Keys are free text but
	// become label values, so keep them few.
	Restarts     map[string]uint64
	LastExitCode int    // -1 when killed by a signal or never exited
	Command      string // "builtin" or the executable's base name
	// LogDropped counts the lines of the instance's output that were lost:
	// a full disk, a removed log folder, a journal that refused them.
	LogDropped uint64
}

// Rollouts counts the manager's rollouts (restarting every instance in turn,
// as a deploy or a reload does) since it started.
type Rollouts struct {
	Started   uint64
	Succeeded uint64
	Failed    uint64
	// LastDuration is how long the last finished rollout took; 0 before
	// the first one ends.
	LastDuration time.Duration
	// Durations holds how long every finished rollout took, succeeded or
	// failed.
	Durations Histogram
}

// rolloutBuckets are the upper bounds, in seconds, of the buckets of
// hellomgr_rollout_duration_seconds. A rollout restarts instances one after
// another, each waiting for readiness and maybe for nginx to drain it, so it
// lasts from a second to many minutes.
var rolloutBuckets = [...]float64{1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}

// Histogram counts durations in the buckets of
// hellomgr_rollout_duration_seconds. The zero value is empty and ready to
// use. It is a plain value with no pointers, so copying it into a Snapshot
// copies the counts; like the rest of the manager's state, it is not safe
// for concurrent use.
type Histogram struct {
	counts [len(rolloutBuckets)]uint64 // per bucket, not cumulative; the rest fell in +Inf
	count  uint64
	sum    float64 // seconds
}

// Observe adds one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	// Buckets are "less than or equal": the first bound >= s holds it.
	if i, _ := slices.BinarySearch(rolloutBuckets[:], s); i < len(h.counts) {
		h.counts[i]++
	}
	h.count++
	h.sum += s
}
