package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// address reads the top-level `address`: the IP address the instances'
// ports are bound on, "" (the default) for every interface.
//
// Only an IP address is taken, written in its usual form: a host name
// would be resolved at every start, and might not name this machine.
// Whether the address belongs to this machine is checked by `up`, which
// binds it, not here: `hellomgr nginx` and `check` read the same file on
// other machines.
func (p *parser) address(key string, v *yaml.Node) (string, bool) {
	s, ok := p.scalar(key, v, `an IP address like "10.0.0.5", or "" for every interface`)
	if !ok || s == "" {
		return "", ok
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		p.add(v.Line, key, `%s is not an IP address; write one of this machine's, like "10.0.0.5", or "" for every interface`, quote(s))
	case a.Zone() != "":
		p.add(v.Line, key, "%s has a zone; a link-local address cannot be reached by nginx on another machine: use a global one", quote(s))
	case a.Is4In6():
		p.add(v.Line, key, `%s is an IPv4 address written as IPv6; write %q`, quote(s), a.Unmap().String())
	default:
		return a.String(), true
	}
	return "", false
}

// metricsAddress reads `metrics.address`: "off", or a "host:port" to
// listen on.
func (p *parser) metricsAddress(key string, v *yaml.Node) (string, bool) {
	s, ok := p.scalar(key, v, `"host:port" or "off"`)
	switch {
	case !ok:
		return "", false
	case strings.EqualFold(s, "off"):
		return "off", true
	}
	if _, msg := checkAddress(s); msg != "" {
		p.add(v.Line, key, "%s", msg)
		return "", false
	}
	return s, true
}

// checkAddress checks a "host:port" to listen on, and returns the port.
// The host must be an IP address or localhost: a name would be resolved
// at every start and might not be this machine at all.
func checkAddress(s string) (int, string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return 0, fmt.Sprintf(`want "host:port" like "127.0.0.1:9100", or "off", got %s`, quote(s))
	}
	n, err := strconv.Atoi(port)
	switch {
	case host == "":
		return 0, fmt.Sprintf(`%s has no host; write "127.0.0.1:%s" (this machine only) or "0.0.0.0:%s" (every interface)`, quote(s), short(port), short(port))
	case host != "localhost" && !isIP(host):
		return 0, fmt.Sprintf("host %s is not an IP address or localhost", quote(host))
	case err != nil || n < 0 || n > 65535:
		return 0, fmt.Sprintf("port %s is not a number in 0-65535 (0: any free port)", quote(port))
	}
	return n, ""
}

func isIP(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// InstanceHost is the host a client on this machine dials to reach the
// instances: the config's address, or 127.0.0.1 when the instances listen
// on every interface ("", 0.0.0.0 or ::). `hellomgr nginx` and `hellomgr
// targets` print it.
func (c *Config) InstanceHost() string {
	return HostOf(c.Address)
}

// HostOf is the host to dial for instances bound on address: address
// itself, or 127.0.0.1 when it is unspecified ("", 0.0.0.0, ::).
func HostOf(address string) string {
	if a, err := netip.ParseAddr(address); err == nil && !a.IsUnspecified() {
		return a.String()
	}
	return "127.0.0.1"
}

// CheckAddressReloadable reports a change of `address` from old, the
// config the manager runs, to c: the ports are bound once, by `up`, so a
// reload that moved them would leave the instances where the file says
// they are not. For CheckReloadable.
func (c *Config) CheckAddressReloadable(old *Config) error {
	if c.Address == old.Address {
		return nil
	}
	return fmt.Errorf("%s: address: changed from %s to %s; a reload cannot move the ports: run hellomgr down, then up", c.File, displayAddress(old.Address), displayAddress(c.Address))
}

func displayAddress(a string) string {
	if a == "" {
		return `"" (every interface)`
	}
	return a
}
