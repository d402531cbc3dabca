package manager

import (
	"github.com/hellomgr/hellomgr/config"
)

// SwapKind is how a rollout replaces the process on a port.
type SwapKind uint8

const (
	// SwapOverlap: handoff + READY=1. The new process starts beside the
	// old one on the port's shared socket; the old one is stopped once the
	// new one says READY=1. The port never pauses.
	SwapOverlap SwapKind = iota
	// SwapHandoff: handoff alone. The old process is stopped, then the new
	// one starts on the shared socket; connects wait in its queue.
	SwapHandoff
	// SwapRestart: stop-then-start. The old process is stopped, then the
	// new one binds the port itself; connects are refused meanwhile.
	SwapRestart
)

// Swap is how a rollout of a config replaces each port's process, and
// what a client of nginx can see while it does. check, up and reload
// state it before anything happens, so that a rollout that can fail a
// request is known as one.
type Swap struct {
	Kind SwapKind
	// Drain: an `nginx:` section takes each port out of the upstream, and
	// waits until nginx has no connection to it, before its process stops.
	Drain   bool
	builtIn bool // the app drains itself on SIGTERM
}

// SwapOf says how a rollout of cfg swaps a port. (A port stopped for
// maintenance has no socket to share, and starts as SwapRestart would.)
func SwapOf(cfg *config.Config) Swap {
	s := Swap{Kind: SwapRestart, Drain: cfg.Nginx != nil, builtIn: cfg.BuiltIn()}
	if cfg.Reload.Handoff == config.HandoffSocket {
		s.Kind = SwapHandoff
		if cfg.Ready.Notify {
			s.Kind = SwapOverlap
		}
	}
	return s
}

// RefusesConnects reports whether a port refuses connects while its
// process is replaced or restarted after a crash: nothing holds its socket
// then. nginx must not take a server out for that (max_fails=0), or one
// refused connect per port makes a rollout an outage.
func (s Swap) RefusesConnects() bool { return s.Kind == SwapRestart }

// Name is the swap's short name, as check prints it.
func (s Swap) Name() string {
	switch {
	case s.Drain:
		return "nginx drain"
	case s.Kind == SwapOverlap:
		return "handoff + READY=1"
	case s.Kind == SwapHandoff:
		return "handoff alone"
	}
	return "stop-then-start"
}

// How is one sentence on what happens to each port during a rollout.
func (s Swap) How() string {
	if s.Drain {
		return "each port leaves the nginx upstream (an nginx reload) and its process is replaced once nginx has no connection left to it; nginx's reloads close its idle client keep-alive connections, which browsers resend on"
	}
	stopped := "each port's old process is stopped"
	if s.builtIn {
		stopped = "each port's old process drains"
	}
	switch s.Kind {
	case SwapOverlap:
		if s.builtIn {
			return "each port's new process starts beside the old one on the same socket, and the old one drains once the new one says READY=1"
		}
		return "each port's new process starts beside the old one on the same socket, and the old one is stopped once the new one says READY=1; no request fails if the app finishes its requests on SIGTERM (python/hellomgr_tornado does)"
	case SwapHandoff:
		return stopped + ", then the new one starts on the same socket: connects wait in its queue, none is refused"
	}
	return stopped + ", then the new one binds the port: connects are refused meanwhile"
}

// Warning is one sentence naming the requests a rollout can fail and the
// one change that saves them, or "" when none can fail.
func (s Swap) Warning() string {
	switch {
	case s.Drain || s.Kind == SwapOverlap:
		return ""
	case s.Kind == SwapHandoff && s.builtIn:
		return ""
	case s.Kind == SwapHandoff:
		return "POSTs the old process holds when it is stopped fail with 502 (nginx retries GETs) unless the app finishes them on SIGTERM; to fix, make it drain and say READY=1, and set ready.notify: true (python/hellomgr_tornado does both for Tornado)"
	case s.builtIn:
		return "behind an upstream with nginx's default max_fails=1 (not the max_fails=0 one `hellomgr nginx` prints), one refused connect takes a port out for 10 s and a rollout fails every request once all ports are out; to fix, remove reload.handoff: none"
	}
	return "POSTs the old process holds when it is stopped fail with 502 (and behind an upstream with nginx's default max_fails=1, not the max_fails=0 one `hellomgr nginx` prints, a refused connect takes the port out for 10 s); to fix, add an nginx: section so each port leaves nginx before it stops (examples/tornado/nginx-drain.yaml)"
}

// Lines is the swap as check, up and reload print it: a "swap:" line,
// then a "warning:" line when a request can fail.
func (s Swap) Lines() []string {
	lines := []string{"swap: " + s.Name() + ": " + s.How() + "."}
	if w := s.Warning(); w != "" {
		lines = append(lines, "warning: "+w+".")
	}
	return lines
}
