// Package control is how commands talk to a running manager: HTTP over a
// Unix socket beside the config, mode 0600, that only the manager's own
// user (or root) may talk to, checked on both ends (trust.go); replies to
// the long requests (reload, restart, stop, start, upgrade, down) stream
// one JSON line per step. There is no TCP control port.
//
// The server side is Listen, Serve and Routes over an API the manager
// implements; the client side is Dial. The package knows nothing of the
// manager itself.
package control

import "time"

// Event is one line of a streamed reply (reload, down): a progress line,
// then a last event with Done or Error set.
type Event struct {
	Line  string `json:"line,omitempty"`
	Error string `json:"error,omitempty"`
	Done  bool   `json:"done,omitempty"`
	// Exec: the manager replaces its program now (upgrade), which ends
	// this reply without a Done.
	Exec bool `json:"exec,omitempty"`
}

// Progress receives one line per rollout step, as it happens.
type Progress func(format string, args ...any)

// Report is what `hellomgr status` shows: the manager and every instance.
type Report struct {
	PID         int              `json:"pid"`
	Version     string           `json:"version,omitempty"`       // the manager's program
	Upgrades    int              `json:"upgrades"`                // times the program was replaced (hellomgr upgrade)
	UpgradeErr  string           `json:"upgrade_error,omitempty"` // why the last upgrade went back to the old program
	Config      string           `json:"config"`
	MetricsAddr string           `json:"metrics_address,omitempty"`
	Instances   []InstanceStatus `json:"instances"`
}

// InstanceStatus is one row of `hellomgr status`.
type InstanceStatus struct {
	Port      int               `json:"port"`
	PID       int               `json:"pid"`
	State     string            `json:"state"`
	Uptime    float64           `json:"uptime_seconds"`
	Restarts  uint64            `json:"restarts"`
	ByReason  map[string]uint64 `json:"restarts_by_reason,omitempty"`
	RSS       int64             `json:"rss_bytes"`
	CPU       float64           `json:"cpu_seconds"`
	LastError string            `json:"last_error,omitempty"`
	Reloads   uint64            `json:"reloads"`
	StartTime time.Time         `json:"start_time,omitzero"`
	LastExit  int               `json:"last_exit_code"`
}

// ReloadOptions change how a reload proceeds.
type ReloadOptions struct {
	// Canary, above 0, replaces that many ports first, then watches them
	// for Watch, and goes on only if they hold up (the manager's
	// judgeCanaries).
	Canary int
	Watch  time.Duration
	// AllowIdle lets a canary that received no request during its
	// watch pass; by default it fails.
	AllowIdle bool
}
