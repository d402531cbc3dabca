package config

import (
	"slices"

	"gopkg.in/yaml.v3"
)

// The checks that involve more than one key. Each runs only when the keys
// it reads are good, so one mistake is reported once; the keys' lines
// come from what the file held (parser.seen).

// finish runs the checks of the whole file, and fills in the defaults
// that depend on other keys.
func (p *parser) finish() {
	p.checkProgram()
	p.checkMaxUnavailable()
	p.checkBackoff()
	p.checkSocket()
	p.checkMetricsPort()
	p.checkSpread()
	if !p.given("nginx") {
		p.c.Nginx = nil
	}
	p.c.servesBuiltIn = runsServe(p.c.Command, p.c.WorkDir)
	if !p.good("ready.notify") {
		p.c.Ready.Notify = p.c.BuiltIn() // the built-in server says READY=1
	}
	if !p.good("reload.handoff") {
		// The built-in server takes the socket, however it is spelled; an
		// arbitrary command is assumed to bind its port itself unless the
		// file says otherwise.
		p.c.Reload.Handoff = HandoffNone
		if p.c.BuiltIn() {
			p.c.Reload.Handoff = HandoffSocket
		}
	}
	p.checkTCPLiveness()
	p.checkTCPReady()
	p.checkExecSize()
}

// checkMaxUnavailable keeps a rollout from stopping more instances than
// there are, or none at all, which would never make progress.
func (p *parser) checkMaxUnavailable() {
	const key = "reload.max_unavailable"
	if !p.good(key) {
		return
	}
	n, line := p.c.Reload.MaxUnavailable, p.seen[key].val.Line
	switch {
	case len(p.c.Ports) > 0 && (n < 1 || n > len(p.c.Ports)):
		p.add(line, key, "want 1 to %d (the number of ports), got %d", len(p.c.Ports), n)
	case n < 1:
		p.add(line, key, "must be at least 1, got %d", n)
	}
}

// checkBackoff refuses a first delay longer than the cap it doubles up to.
func (p *parser) checkBackoff() {
	r := p.c.Restart
	if r.Backoff <= r.MaxBackoff {
		return
	}
	if p.good("restart.max_backoff") {
		byDefault := ""
		if !p.good("restart.backoff") {
			byDefault = " by default"
		}
		p.add(p.line("restart.max_backoff"), "restart.max_backoff", "%s is less than restart.backoff (%s%s)", r.MaxBackoff, r.Backoff, byDefault)
	} else {
		p.add(p.line("restart.backoff"), "restart.backoff", "%s is more than restart.max_backoff (%s by default)", r.Backoff, r.MaxBackoff)
	}
}

// checkSocket refuses a socket path too long to bind: the kernel's error
// ("invalid argument") would not say why.
func (p *parser) checkSocket() {
	n := len(p.c.Socket)
	if n <= maxSocketPath {
		return
	}
	if p.good("socket") {
		p.add(p.seen["socket"].val.Line, "socket", "path is %d bytes, more than the %d a Unix socket allows; choose a shorter one, e.g. socket: /tmp/hellomgr.sock", n, maxSocketPath)
		return
	}
	p.add(1, "socket", "the default %s is %d bytes, more than the %d a Unix socket allows; add a shorter `socket:`, e.g. socket: /tmp/hellomgr.sock", p.c.Socket, n, maxSocketPath)
}

// checkMetricsPort refuses a metrics port that an instance also listens on:
// one of the two would fail to bind at every start.
func (p *parser) checkMetricsPort() {
	if port, msg := checkAddress(p.c.Metrics.Address); msg == "" && port > 0 && slices.Contains(p.c.Ports, port) {
		p.add(p.seen["metrics.address"].val.Line, "metrics.address", "port %d is also in ports", port)
	}
}

// checkTCPLiveness refuses a tcp liveness probe when the socket is handed
// off: the manager holds the port's listening socket, so a TCP connect to
// it always succeeds, whatever the instance does.
func (p *parser) checkTCPLiveness() {
	if p.c.Liveness.Kind != ProbeTCP || p.c.Reload.Handoff != HandoffSocket {
		return
	}
	how := "reload.handoff is socket"
	if !p.good("reload.handoff") {
		how = "the built-in server gets reload.handoff: socket"
	}
	p.add(p.line("liveness.tcp"), "liveness.tcp", "%s, so hellomgr holds the port and a connect always succeeds, even to a hung instance; use http: PATH (a GET that must answer), or set reload.handoff: none", how)
}

// checkTCPReady refuses a tcp readiness probe when the socket is handed
// off (and readiness is not the app's READY=1): the manager holds the
// port's listening socket, so a connect succeeds before the process has
// even started, and any process, one that never serves, is "ready".
func (p *parser) checkTCPReady() {
	if p.c.Ready.Kind != ProbeTCP || p.c.Ready.Notify || p.c.Reload.Handoff != HandoffSocket {
		return
	}
	how := "reload.handoff is socket"
	if !p.good("reload.handoff") {
		how = "the built-in server gets reload.handoff: socket"
	}
	p.add(p.line("ready.tcp"), "ready.tcp", "%s, so hellomgr holds the port and a connect succeeds before the instance even serves; use http: PATH (a GET that must answer) or notify: true, or set reload.handoff: none", how)
}

// checkReady, once `ready`'s keys are read, keeps one probe of the two.
func (p *parser) checkReady(*yaml.Node) {
	r := &p.c.Ready
	switch {
	case r.Kind == ProbeTCP && p.good("ready.http"):
		p.add(max(p.line("ready.http"), p.line("ready.tcp")), "ready", "both http and tcp: true are set; keep one")
	case r.Kind == ProbeTCP:
		r.Path = "" // no path is probed
	}
}

// checkLiveness, once `liveness`'s keys (under k) are read, turns the
// probe on if they describe one. One in flight at most: each probe must
// end before the next.
func (p *parser) checkLiveness(k *yaml.Node) {
	l := &p.c.Liveness
	tcp, http := l.Kind == ProbeTCP, p.good("liveness.http")
	l.Kind = ""
	switch {
	case tcp && http:
		p.add(max(p.line("liveness.http"), p.line("liveness.tcp")), "liveness", "both http and tcp: true are set; keep one")
	case !tcp && !http:
		p.add(k.Line, "liveness", `probes nothing; add http: "/healthz" (a GET that must answer below 500), or remove the section`)
	case l.Timeout >= l.Interval:
		key := "liveness.timeout"
		if !p.good(key) {
			key = "liveness.interval"
		}
		p.add(p.line(key), key, "timeout %s must be less than interval %s, so that a probe ends before the next one starts", l.Timeout, l.Interval)
	case tcp:
		l.Kind = ProbeTCP
	default:
		l.Kind = ProbeHTTP
	}
}

// checkNginx, once `nginx`'s keys (under k) are read, requires the one
// without a default.
func (p *parser) checkNginx(k *yaml.Node) {
	if !p.given("nginx.upstream_file") {
		p.add(k.Line, "nginx", "upstream_file is required: the file hellomgr writes the upstream block to, e.g. upstream_file: /etc/nginx/conf.d/hellomgr.conf")
	}
}
