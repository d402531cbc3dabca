package instance

import (
	"errors"
	"fmt"
	"strings"
)

// StartError is the error Start returns when the first start fails: the
// port, the pid, why, and the last lines of output, so the user sees why
// without opening the log. Err is the cause: the spawn's error, the exit
// (an *exec.ExitError, found with errors.As), or the readiness probe's.
type StartError struct {
	Port   int
	PID    int    // 0 when no process was spawned
	Output string // the last lines printed, trimmed; "" when none
	Err    error
}

// Error says, for example:
//
//	instance 8001 (pid 42) exited before ready: exit status 3
//	last output:
//	  boom: config missing
func (e *StartError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "instance %d", e.Port)
	if e.PID > 0 {
		fmt.Fprintf(&b, " (pid %d)", e.PID)
	}
	b.WriteString(" " + e.Err.Error())
	if e.Output != "" {
		b.WriteString("\nlast output:\n  " + strings.ReplaceAll(e.Output, "\n", "\n  "))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *StartError) Unwrap() error { return e.Err }

// exitCoder is an exit with a status: *exec.ExitError, or a fake
// process's exit. ExitCode is -1 when a signal ended the process.
type exitCoder interface{ ExitCode() int }

// exitReason classifies an exit for the restart counters.
func exitReason(err error) (reason string, code int) {
	var exit exitCoder
	switch {
	case err == nil:
		return "exited", 0
	case !errors.As(err, &exit):
		return "crashed", -1
	case exit.ExitCode() == -1:
		return "killed", -1
	case exit.ExitCode() == 0:
		return "exited", 0
	}
	return "crashed", exit.ExitCode()
}

var errExitZero = errors.New("exit status 0")

// exitCause is the error that says how a process ended, for messages:
// err, or for a clean exit (nil) "exit status 0".
func exitCause(err error) error {
	if err == nil {
		return errExitZero
	}
	return err
}
