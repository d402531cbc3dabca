package instance

import "fmt"

// State is where an instance is in its life. Only the instance's own
// goroutine changes it, through setState, which checks the transition.
type State uint8

const (
	Stopped  State = iota // no process, none wanted
	Starting              // process started, not yet ready
	Ready                 // process answers its readiness probe
	Stopping              // asked to stop, waiting for it to exit
	Backoff               // exited unasked, waiting to be started again
	Failed                // gave up: too many failed starts, or a start that was not to be retried
)

var stateNames = [...]string{"stopped", "starting", "ready", "stopping", "backoff", "failed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// transitions lists, for each state, the states it may move to.
var transitions = map[State][]State{
	Stopped:  {Starting},
	Starting: {Ready, Stopping, Backoff, Failed, Stopped}, // Stopped: stopped before a failed spawn was handled
	Ready:    {Stopping, Backoff, Failed},                 // Failed: it exited once too often (restart.max_tries)
	Stopping: {Stopped, Failed},
	Backoff:  {Starting, Stopped},
	Failed:   {Starting, Stopped},
}

func canMove(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}
