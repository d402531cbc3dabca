package statuspage

import (
	"maps"
	"sync"
	"time"

	"github.com/hellomgr/hellomgr/control"
)

// The manager does not keep a rollout's steps; what the page shows of
// them is read off the ports between two polls: a port whose reload
// count has grown since the rollout began was replaced, one starting or
// stopping is being replaced, the others wait. A rollout that begins and
// ends between two polls is shown as the last one, with what it did.

type rolloutsView struct {
	Started   uint64       `json:"started"`
	Succeeded uint64       `json:"succeeded"`
	Failed    uint64       `json:"failed"`
	Current   *rolloutView `json:"current,omitempty"` // in progress
	Last      *rolloutView `json:"last,omitempty"`    // the last one seen to end
}

type rolloutView struct {
	Number     uint64     `json:"number"`
	Since      int64      `json:"since"`            // Unix ms, when first seen
	Result     string     `json:"result,omitempty"` // "succeeded" or "failed", once ended
	DurationMS int64      `json:"duration_ms,omitempty"`
	Replaced   int        `json:"replaced"`
	Steps      []stepView `json:"steps"`
}

// stepView is where one port is in the rollout: waiting, replacing,
// replaced, added, or (once ended) unchanged.
type stepView struct {
	Port int    `json:"port"`
	Step string `json:"step"`
}

// tracker follows rollouts across the polls of every page open.
type tracker struct {
	mu      sync.Mutex
	seen    Rollouts       // the counts at the last poll
	reloads map[int]uint64 // each port's reload count at the last poll
	cur     *rolloutState  // in progress
	last    *rolloutView   // the last one seen to end
}

type rolloutState struct {
	number       uint64
	since        time.Time
	failedBefore uint64
	base         map[int]uint64 // reload counts before it began
}

func newTracker() *tracker { return &tracker{} }

// observe takes one poll's rows and counts and returns what the page
// shows of the rollouts.
func (t *tracker) observe(now time.Time, rows []control.InstanceStatus, counts Rollouts) rolloutsView {
	t.mu.Lock()
	defer t.mu.Unlock()
	reloads := make(map[int]uint64, len(rows))
	for _, r := range rows {
		reloads[r.Port] = r.Reloads
	}
	if counts.Started > t.seen.Started {
		base := t.reloads
		if base == nil { // the first poll: what happened before is unknown
			base = reloads
		}
		t.cur = &rolloutState{number: counts.Started, since: now, failedBefore: t.seen.Failed, base: maps.Clone(base)}
	}
	v := rolloutsView{Started: counts.Started, Succeeded: counts.Succeeded, Failed: counts.Failed}
	if t.cur != nil {
		active := counts.Started > counts.Succeeded+counts.Failed
		rv := t.cur.view(rows, active)
		if active {
			v.Current = &rv
		} else {
			rv.Result = "succeeded"
			if counts.Failed > t.cur.failedBefore {
				rv.Result = "failed"
			}
			rv.DurationMS = counts.LastDuration.Milliseconds()
			t.last, t.cur = &rv, nil
		}
	}
	v.Last = t.last
	t.seen, t.reloads = counts, reloads
	return v
}

// view is the steps of every port in rows.
func (s *rolloutState) view(rows []control.InstanceStatus, active bool) rolloutView {
	v := rolloutView{Number: s.number, Since: s.since.UnixMilli(), Steps: make([]stepView, 0, len(rows))}
	for _, r := range rows {
		step := s.step(r, active)
		if step == "replaced" || step == "added" {
			v.Replaced++
		}
		v.Steps = append(v.Steps, stepView{Port: r.Port, Step: step})
	}
	return v
}

func (s *rolloutState) step(r control.InstanceStatus, active bool) string {
	before, known := s.base[r.Port]
	busy := r.State == "starting" || r.State == "stopping"
	switch {
	case !known:
		return "added"
	case r.Reloads > before && !busy:
		return "replaced"
	case active && (r.Reloads > before || busy):
		return "replacing"
	case active:
		return "waiting"
	}
	return "unchanged"
}
