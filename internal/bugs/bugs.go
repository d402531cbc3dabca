// Package bugs counts the manager's own bugs caught at run time: a
// state change the transition table does not allow, a panic recovered in
// an instance's owner or a request handler. A supervisor must not die of
// one (its death would end every instance), so each is logged loudly,
// with what it was about, counted (hellomgr_internal_errors_total), and
// survived; the count is what an alert watches.
package bugs

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
)

var count atomic.Uint64

// Count returns how many bugs were reported since the program started.
func Count() uint64 { return count.Load() }

// Report logs a bug described by msg and args, with the stack of the
// calling goroutine, and counts it.
func Report(log *slog.Logger, msg string, args ...any) {
	count.Add(1)
	if log == nil {
		log = slog.Default()
	}
	args = append(args, "stack", string(debug.Stack()))
	log.Error("internal error (a bug in hellomgr; please report it): "+msg, args...)
}

// Recovered reports the panic value v, if not nil, as a bug, and says
// whether there was one. Call it from a deferred function:
//
//	defer func() { if bugs.Recovered(log, recover(), "port", p) { ... } }()
func Recovered(log *slog.Logger, v any, args ...any) bool {
	if v == nil {
		return false
	}
	Report(log, fmt.Sprintf("panic: %v", v), args...)
	return true
}
