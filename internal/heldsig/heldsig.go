// Package heldsig owns the manager's signals, so that none ends it while
// `hellomgr upgrade` execs a new program in its process. Until the new
// program listens, SIGHUP and SIGTERM would end it (their default, and Go's
// for a signal nobody listens to), and with it every instance, since they
// die with the manager.
//
// So the old program ignores them just before the exec (BeforeExec), and
// a program started to take over (`up --upgrade-fd N`) listens from its
// package initialization on, before any other package of hellomgr's is
// initialized; Take hands over what arrived meanwhile. What is left is
// the new program's first moments, the Go runtime's own start (about a
// millisecond here, more on a loaded machine): a signal then is ignored
// (SIGTERM, in the last fraction of it, ends the program). The kernel
// cannot hold them for longer: Go unblocks SIGHUP, SIGINT and SIGTERM on
// every thread as it starts, before its handlers are installed.
package heldsig

import (
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
)

// Signals are the manager's signals: stop (SIGINT, SIGTERM), reload
// (SIGHUP) and upgrade (SIGUSR2).
var Signals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR2}

var (
	mu sync.Mutex
	ch chan os.Signal // where Signals go, once listened for
)

func init() {
	if slices.Contains(os.Args, "--upgrade-fd") {
		listen()
	}
}

func listen() {
	ch = make(chan os.Signal, 16)
	signal.Notify(ch, Signals...)
}

// Take returns the channel that receives Signals: the one that has held
// them since the program began, if it takes over, else a new one.
func Take() chan os.Signal {
	mu.Lock()
	defer mu.Unlock()
	if ch == nil {
		listen()
	}
	return ch
}

// BeforeExec ignores Signals, which the program about to be exec'd
// inherits (see the package comment). Call it just before the exec, and
// AfterFailedExec if the exec fails.
func BeforeExec() { signal.Ignore(Signals...) }

// AfterFailedExec listens for Signals again, on the channel Take gave.
func AfterFailedExec() {
	mu.Lock()
	defer mu.Unlock()
	if ch != nil {
		signal.Notify(ch, Signals...)
	}
}
