package config

import (
	"errors"
	"fmt"
)

// CheckReloadable reports what a reload from old, the config the manager
// runs, to c cannot apply, one problem per line; nil when there is none.
// The control socket and the metrics address are listened on once, by
// `up`: a reload that moved them would leave the manager answering where
// the new file says it does not, so it is refused, before any change,
// with the way to apply it. It changes nothing, and compares only the two
// configs.
func (c *Config) CheckReloadable(old *Config) error {
	var errs []error
	if c.Socket != old.Socket {
		errs = append(errs, fmt.Errorf("%s: socket: changed from %s to %s; a reload cannot move the control socket: run hellomgr down, then up", c.File, old.Socket, c.Socket))
	}
	if c.Metrics.Address != old.Metrics.Address {
		errs = append(errs, fmt.Errorf("%s: metrics.address: changed from %s to %s; a reload cannot move the metrics listener: run hellomgr down, then up", c.File, old.Metrics.Address, c.Metrics.Address))
	}
	errs = append(errs, c.CheckAddressReloadable(old))
	return errors.Join(errs...)
}
