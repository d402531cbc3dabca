package instance

import (
	"log/slog"
	"time"
)

// Rest is an instance that runs no process (stopped, failed, in backoff)
// as one manager program hands it to the next: what status shows of it,
// so that an upgrade changes none of it.
type Rest struct {
	State        string            `json:"state"`
	Restarts     map[string]uint64 `json:"restarts,omitempty"`
	LastExitCode int               `json:"last_exit_code"`
	LastError    string            `json:"last_error,omitempty"`
}

// Rest returns the instance's status as a Rest.
func (i *Instance) Rest() Rest {
	st := i.Status()
	return Rest{State: st.State.String(), Restarts: st.Restarts, LastExitCode: st.LastExitCode, LastError: st.LastError}
}

// Resting returns an instance that runs nothing, with r's restart counts
// and last exit: in state failed if r was failed (it stays so until it is
// started again), else stopped. Start starts it as any other.
func Resting(spec Spec, log *slog.Logger, r Rest) *Instance {
	i := New(spec, log)
	if r.State == Failed.String() {
		i.status.State = Failed
	}
	i.status.Since = time.Now()
	if r.Restarts != nil {
		i.status.Restarts = r.Restarts
	}
	i.status.LastExitCode, i.status.LastError = r.LastExitCode, r.LastError
	return i
}

// Waiting reports whether r was in backoff: waiting to be started again.
func (r Rest) Waiting() bool { return r.State == Backoff.String() }
