package config

import "slices"

// finish runs the checks that involve more than one key, and fills in the
// defaults that depend on other keys. Each check runs only when the keys
// it reads are good, so one mistake is reported once.
func (p *parser) finish() {
	p.checkProgram()
	p.checkMaxUnavailable()
	p.checkBackoff()
	p.checkSocket()
	p.checkMetricsPort()
	p.c.servesBuiltIn = runsServe(p.c.Command, p.c.WorkDir)
	if !p.notifySet {
		p.c.Ready.Notify = p.c.BuiltIn() // the built-in server says READY=1
	}
	if !p.handoffSet {
		// The built-in server takes the socket, however it is spelled; an
		// arbitrary command is assumed to bind its port itself unless the
		// file says otherwise.
		p.c.Reload.Handoff = HandoffNone
		if p.c.BuiltIn() {
			p.c.Reload.Handoff = HandoffSocket
		}
	}
}

// checkMaxUnavailable keeps a rollout from stopping more instances than
// there are, or none at all, which would never make progress.
func (p *parser) checkMaxUnavailable() {
	if p.maxUnavail == nil {
		return
	}
	n := p.c.Reload.MaxUnavailable
	switch {
	case p.portsOK && (n < 1 || n > len(p.c.Ports)):
		p.add(p.maxUnavail.Line, "reload.max_unavailable", "want 1 to %d (the number of ports), got %d", len(p.c.Ports), n)
	case n < 1:
		p.add(p.maxUnavail.Line, "reload.max_unavailable", "must be at least 1, got %d", n)
	}
}

// checkBackoff refuses a first delay longer than the cap it doubles up to.
func (p *parser) checkBackoff() {
	r := p.c.Restart
	if r.Backoff <= r.MaxBackoff {
		return
	}
	if p.maxBackLine > 0 {
		byDefault := ""
		if p.backoffLine == 0 {
			byDefault = " by default"
		}
		p.add(p.maxBackLine, "restart.max_backoff", "%s is less than restart.backoff (%s%s)", r.MaxBackoff, r.Backoff, byDefault)
	} else {
		p.add(p.backoffLine, "restart.backoff", "%s is more than restart.max_backoff (%s by default)", r.Backoff, r.MaxBackoff)
	}
}

// checkMetricsPort refuses a metrics port that an instance also listens on:
// one of the two would fail to bind at every start.
func (p *parser) checkMetricsPort() {
	if p.metricsPort > 0 && slices.Contains(p.c.Ports, p.metricsPort) {
		p.add(p.metricsLine, "metrics.address", "port %d is also in ports", p.metricsPort)
	}
}
