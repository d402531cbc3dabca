package config

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Proxy is how `hellomgr nginx` prints the location and upstream for
// long-lived connections (key `proxy`).
type Proxy struct {
	// ReadTimeout is `proxy.read_timeout`, default 1h: nginx's
	// proxy_read_timeout, how long a quiet websocket or held long-poll
	// lives (nginx's own default, 60s, cuts them).
	ReadTimeout time.Duration
	// Hash is `proxy.hash`: "" (round robin, the default),
	// "client_address", or "cookie:NAME". With a hash, nginx sends one
	// client to one port, for apps that keep state per process.
	Hash string
}

// HashClientAddress and HashCookie are the values of proxy.hash.
const (
	HashClientAddress = "client_address"
	HashCookie        = "cookie:"
)

var cookieName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// proxyHash reads `proxy.hash`.
func (p *parser) proxyHash(key string, v *yaml.Node) (string, bool) {
	const want = `"client_address" or "cookie:NAME"`
	s, ok := p.scalar(key, v, want)
	if !ok {
		return "", false
	}
	if name, isCookie := strings.CutPrefix(s, HashCookie); isCookie {
		if !cookieName.MatchString(name) {
			p.add(v.Line, key, "cookie name %s: want letters, digits and _ (nginx's $cookie_NAME), like cookie:session", quote(name))
			return "", false
		}
		return s, true
	}
	if s != HashClientAddress {
		p.add(v.Line, key, "want %s, got %s", want, quote(s))
		return "", false
	}
	return s, true
}

// checkSpread keeps the websockets' close spread inside the stop timeout:
// an instance still closing them at stop.timeout is killed, and the rest
// are dropped without a close frame. Unless given, the spread is at most
// half the stop timeout.
func (p *parser) checkSpread() {
	s := &p.c.Stop
	if !p.given("stop.spread") {
		s.Spread = min(s.Spread, s.Timeout/2)
		return
	}
	if p.good("stop.spread") && s.Spread >= s.Timeout {
		p.add(p.line("stop.spread"), "stop.spread", "%s must be less than stop.timeout (%s): closes still spreading at the timeout are cut by SIGKILL", s.Spread, s.Timeout)
	}
}

// DrainEnv is what an instance is told of its drain, in its environment,
// so an app that drains itself (python/hellomgr_tornado) follows the
// config instead of constants: HELLOMGR_STOP_TIMEOUT and
// HELLOMGR_STOP_SPREAD in seconds, HELLOMGR_CLOSE_CODE.
func (c *Config) DrainEnv() []string {
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
	return []string{
		"HELLOMGR_STOP_TIMEOUT=" + secs(c.Stop.Timeout),
		"HELLOMGR_STOP_SPREAD=" + secs(c.Stop.Spread),
		"HELLOMGR_CLOSE_CODE=" + strconv.Itoa(c.Stop.CloseCode),
	}
}
