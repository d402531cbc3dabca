package config

import (
	"fmt"
	"net/netip"

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
func (p *parser) address(v *yaml.Node) {
	s, ok := p.scalar("address", v, `an IP address like "10.0.0.5", or "" for every interface`)
	if !ok || s == "" {
		return
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		p.add(v.Line, "address", `%s is not an IP address; write one of this machine's, like "10.0.0.5", or "" for every interface`, quote(s))
	case a.Zone() != "":
		p.add(v.Line, "address", "%s has a zone; a link-local address cannot be reached by nginx on another machine: use a global one", quote(s))
	case a.Is4In6():
		p.add(v.Line, "address", `%s is an IPv4 address written as IPv6; write %q`, quote(s), a.Unmap().String())
	default:
		p.c.Address = a.String()
	}
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
