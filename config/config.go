// Package config reads and validates a hellomgr config file (config.yaml).
//
// Load is strict: an unknown key, a wrong type, a duplicate or overlapping
// port, a port outside 1-65535, an empty command or a bad duration is an
// error that names the file, the line and the key. Every problem found is
// reported, joined with errors.Join, and nothing is returned on error, so a
// caller never acts on half a config.
package config

import (
	"fmt"
	"syscall"
	"time"
)

// PortPlaceholder is replaced by the instance's port in every command item.
const PortPlaceholder = "{port}"

// Config is a validated config file. Every path in it is absolute: relative
// paths in the file resolve against the folder that holds the file.
type Config struct {
	// File is the absolute path of the config file; Dir is its folder.
	File string
	Dir  string

	// Ports lists every instance's port, expanded from ranges and sorted.
	Ports []int
	// Address is `address`: the IP address the ports are bound on, ""
	// (the default) for every interface. See InstanceHost.
	Address string

	// Command is the argv of one instance, with {port} still in it.
	// Empty means the built-in server: "<hellomgr binary> serve --port {port}".
	Command []string
	// servesBuiltIn: Command runs hellomgr's own `serve` (see BuiltIn).
	servesBuiltIn bool

	// WorkDir is the children's working directory (key `dir`, default: Dir).
	WorkDir string

	// Env holds extra "KEY=value" entries for the children, sorted by key.
	// PORT is not in it: the manager always sets PORT itself.
	Env []string

	Ready   Ready
	Stop    Stop
	Restart Restart
	Reload  Reload
	Logs    Logs
	Metrics Metrics

	// Socket is the control socket's path (default .hellomgr/hellomgr.sock).
	Socket string
	// StateDir holds the pid file and, by default, the socket (.hellomgr).
	StateDir string

	// Proxy is how `hellomgr nginx` prints the location and upstream
	// (key `proxy`); it never makes hellomgr touch nginx.
	Proxy Proxy

	// Nginx is nil unless the file has an `nginx:` section.
	Nginx *Nginx

	Liveness Liveness // off unless `liveness:` sets http or tcp (see checkLiveness)
	Limits   Limits
	Hooks    Hooks
}

// ProbeKind says how readiness is checked.
type ProbeKind string

const (
	ProbeHTTP ProbeKind = "http"
	ProbeTCP  ProbeKind = "tcp"
)

// Ready is the readiness probe (key `ready`).
type Ready struct {
	Kind     ProbeKind     // `ready.tcp: true` selects ProbeTCP; default ProbeHTTP
	Path     string        // `ready.http`, default "/"; any status below 500 counts
	Timeout  time.Duration // `ready.timeout`, default 10s: how long a new instance may take
	Interval time.Duration // `ready.interval`, default 50ms: time between probes
	// Notify is `ready.notify`: the instance says READY=1 on the
	// NOTIFY_SOCKET hellomgr gives it (sd_notify), and that, not a probe,
	// makes it ready. Default: true for the built-in server, which does
	// so. With reload.handoff socket, the new process then starts while the
	// old one still serves, since readiness no longer depends on which of
	// the two answers a probe.
	Notify bool
}

// Stop says how an instance is stopped (key `stop`).
type Stop struct {
	Signal  syscall.Signal // `stop.signal`, default SIGTERM ("TERM", "SIGTERM", "INT", ... accepted)
	Timeout time.Duration  // `stop.timeout`, default 10s; then SIGKILL to the process group
	// Spread is `stop.spread`, default 2s: an app that drains itself
	// spreads the close frames of its websockets over this long, so their
	// reconnects arrive at a bounded rate (HAProxy's close-spread-time).
	// Less than Timeout. Passed to the instance as HELLOMGR_STOP_SPREAD.
	Spread time.Duration
	// CloseCode is `stop.close_code`, 1001 (going away) or 1012 (service
	// restart, the default): the websocket close code sent on a drain.
	CloseCode int
}

// Restart is the backoff for instances that exit when not asked to (key `restart`).
type Restart struct {
	Backoff    time.Duration // `restart.backoff`, default 100ms: first delay
	MaxBackoff time.Duration // `restart.max_backoff`, default 10s: the delay doubles up to this
	ResetAfter time.Duration // `restart.reset_after`, default 10s: up this long resets the backoff
	MaxTries   int           // `restart.max_tries`, default 10: failed starts in a row before state failed; 0 = never give up
}

// Handoff says how a port's listening socket is handled.
type Handoff string

const (
	// HandoffSocket: the manager binds the port once and passes the
	// listening socket to each child as fd 3 (LISTEN_FDS=1), so a connect
	// is never refused while an instance is replaced.
	HandoffSocket Handoff = "socket"
	// HandoffNone: the child binds the port itself.
	HandoffNone Handoff = "none"
)

// Reload is how a rollout proceeds (key `reload`).
type Reload struct {
	MaxUnavailable int // `reload.max_unavailable`, default 1, at most len(Ports)
	// Handoff is `reload.handoff`; default HandoffSocket when Command is
	// empty (the built-in server takes the socket), HandoffNone otherwise.
	Handoff Handoff
}

// Logs is where each instance's output goes (key `logs`).
type Logs struct {
	// To is `logs.to`, default LogsToFile: a file per port under Dir; with
	// LogsToJournal, systemd's journal instead.
	To  LogsTo
	Dir string // `logs.dir`, default "logs": one file per port, e.g. logs/8001.log
	// MaxSizeMB is `logs.max_size` in megabytes (1 MB = 1024*1024 bytes),
	// default 10: a port's file is renamed aside once it would grow past it.
	MaxSizeMB int
	// MaxFiles is `logs.max_files`, default 5: renamed-aside files kept per
	// port; the oldest beyond it is deleted.
	MaxFiles int
}

// LogsTo is where the instances' lines go (`logs.to`).
type LogsTo uint8

const (
	// LogsToFile: a file per port under logs.dir, rotated (the default).
	LogsToFile LogsTo = iota
	// LogsToJournal: systemd's journal, one entry per line, with the
	// fields HELLOMGR_PORT and HELLOMGR_PID; no file.
	LogsToJournal
)

func (t LogsTo) String() string {
	if t == LogsToJournal {
		return "journal"
	}
	return "file"
}

// Journal reports whether the lines go to the journal rather than files.
func (l Logs) Journal() bool { return l.To == LogsToJournal }

// Metrics is the manager's own HTTP endpoint (key `metrics`).
type Metrics struct {
	// Address is `metrics.address`, default "127.0.0.1:0" (a free loopback
	// port, shown by `hellomgr status`); "off" disables it.
	Address string
}

// Nginx lets a rollout take an instance out of an nginx upstream before
// stopping it (key `nginx`), for apps that cannot drain themselves.
type Nginx struct {
	Upstream      string   // `nginx.upstream`, default "hellomgr": the upstream block's name
	UpstreamFile  string   // `nginx.upstream_file`, required: the file hellomgr writes
	ReloadCommand []string // `nginx.reload_command`, default ["nginx", "-s", "reload"]
	// DrainTimeout is `nginx.drain_timeout`, default 10s: how long to wait
	// for a port's established connections to end after it is marked down.
	DrainTimeout time.Duration
}

// BuiltIn reports whether the instances run the built-in hello server:
// no Command, or a Command that runs a hellomgr binary's `serve`, as a
// user writes it to pass a flag. The built-in server takes the port's
// socket and says READY=1, so the defaults that follow from it (handoff,
// notify) hold however it is spelled.
func (c *Config) BuiltIn() bool { return len(c.Command) == 0 || c.servesBuiltIn }

// Liveness probes an instance once it is ready (key `liveness`). It is off
// unless `http` or `tcp: true` is set; an instance that fails Failures
// probes in a row is replaced as `hellomgr restart PORT` replaces it.
type Liveness struct {
	Kind     ProbeKind     // "" (off), ProbeHTTP (`liveness.http`) or ProbeTCP (`liveness.tcp: true`)
	Path     string        // `liveness.http`: a GET of it must answer below 500
	Interval time.Duration // `liveness.interval`, default 10s: from one probe to the next
	Timeout  time.Duration // `liveness.timeout`, default 2s: a probe not answered by then failed; less than Interval
	Failures int           // `liveness.failures`, default 3: failed probes in a row that replace the instance
}

// On reports whether the instances are probed once ready.
func (l Liveness) On() bool { return l.Kind != "" }

// Limits bounds what an instance may use (key `limits`).
type Limits struct {
	// MemoryBytes is `limits.memory` in bytes, 0 for none: an instance
	// (its process and everything it started) over it is replaced as
	// `hellomgr restart PORT` replaces it.
	MemoryBytes int64
}

// Hooks are commands run when an instance changes state (key `hooks`).
type Hooks struct {
	OnFailed  []string      // `hooks.on_failed`: argv run when an instance gives up (state failed)
	OnRestart []string      // `hooks.on_restart`: argv run when an instance is restarted unasked (an exit, liveness, memory)
	Timeout   time.Duration // `hooks.timeout`, default 10s: a hook still running then is killed
}

// Describe says what the probe does, for check: "GET /healthz every
// 10s (timeout 2s); 3 failed in a row replace the instance".
func (l Liveness) Describe() string {
	what := "a TCP connect"
	if l.Kind == ProbeHTTP {
		what = "GET " + l.Path
	}
	return fmt.Sprintf("%s every %s (timeout %s); %d failed in a row replace the instance", what, l.Interval, l.Timeout, l.Failures)
}
