package cmd

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/manager"
	"github.com/hellomgr/hellomgr/nginx"
	"github.com/hellomgr/hellomgr/reqlog"
)

func newNginx() *cobra.Command {
	var cf configFlag
	var o nginxOpts
	c := &cobra.Command{
		Use:   "nginx",
		Short: "Print the nginx upstream for the configured ports, and a location that uses it",
		Long: `nginx prints what goes in nginx's http block, then a location block for a
server block that proxies to it, with keep-alive to the instances. Under it,
a rollout of this config loses no request that nginx can save.

Without an nginx: section, the http part is an upstream block listing every
port, on the config's address (127.0.0.1 when the instances listen on every
interface). Where a port refuses connects while its process restarts
(reload.handoff: none), each server line has max_fails=0, so that a refused
connect never takes a port out of rotation. With an nginx: section, it is an
include of nginx.upstream_file, which hellomgr writes and rewrites at every
rollout to take each port out before stopping it.

For long-lived connections: websocket upgrades pass (the map of
$connection_upgrade goes in the http block, with the upstream), quiet
websockets and long-polls live proxy.read_timeout (1h by default), every
server has max_fails=0 (a request cut during a swap never takes a port out),
and a held POST that a draining instance gives back with 421 is sent again
to another instance (the named location). proxy.hash prints a consistent
hash upstream (client address or a cookie) for an app that keeps state per
process. --upstream NAME names the upstream, so that two configs share one
nginx.

Several machines behind one nginx: run the same ports and settings on each
(with address: set to each machine's own address, which nginx reaches), and
give every machine's address with --host, once each. The upstream then lists
each machine's ports in turn, with the same settings, whatever the config's
nginx: section (that section drains a local nginx). --down ADDR marks one
machine's servers down, to take it out of the upstream before its rollout
and let nginx's connections to it end; print it again without --down to put
it back. --upstream-only prints the upstream block alone, for a file that
nginx includes. deploy/ansible/ rolls a fleet this way, one machine at a
time:

  hellomgr nginx --upstream-only --host 10.0.0.11 --host 10.0.0.12 \
      --host 10.0.0.13 --down 10.0.0.12 > /etc/nginx/conf.d/hellomgr-upstream.conf
  nginx -s reload`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			return o.run(&cf, c.OutOrStdout())
		},
	}
	cf.register(c)
	c.Flags().StringArrayVar(&o.hosts, "host", nil, "a machine running this config, by the address nginx reaches it at (repeat for each machine)")
	c.Flags().StringArrayVar(&o.down, "down", nil, "a machine (one of --host) whose servers are marked down (repeatable)")
	c.Flags().BoolVar(&o.upstreamOnly, "upstream-only", false, "print the upstream block alone, for a file nginx includes")
	c.Flags().StringVar(&o.name, "upstream", "", "the upstream's name (default hellomgr, or nginx.upstream), so that two configs share one nginx")
	return c
}

// nginxOpts are the flags of `hellomgr nginx`.
type nginxOpts struct {
	hosts, down  []string
	upstreamOnly bool
	name         string // --upstream
}

// run prints the http part for the config and, unless --upstream-only,
// the location that uses it.
func (o nginxOpts) run(cf *configFlag, out io.Writer) error {
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	name, err := o.upstreamName(cfg)
	if err != nil {
		return err
	}
	up, err := o.upstream(cfg, name)
	if err != nil {
		return err
	}
	if o.upstreamOnly {
		_, err := out.Write(up)
		return err
	}
	proxy := nginx.Proxy{Name: name, ReadTimeout: cfg.Proxy.ReadTimeout}
	location := proxy.Location()
	if len(o.hosts) == 0 { // the manager's request log socket is on this machine: docs/metrics.md
		up, location = append(up, "\n"+nginx.LogFormat(name)...), proxy.LoggedLocation(reqlog.SocketPath(cfg.StateDir))
	}
	fmt.Fprintf(out, "# In nginx's http { } block:\n%s\n# In a server { } block:\n%s", up, location)
	return nil
}

// upstream is the http part for cfg: the include of the file hellomgr
// writes (an nginx: section, one machine, the whole output), or the
// upstream block over the machines named.
func (o nginxOpts) upstream(cfg *config.Config, name string) ([]byte, error) {
	hosts := o.hosts
	if len(hosts) == 0 {
		if cfg.Nginx != nil && !o.upstreamOnly && len(o.down) == 0 {
			return []byte(httpPart(cfg)), nil
		}
		hosts = []string{cfg.InstanceHost()}
	}
	down := map[string]bool{}
	for _, d := range o.down {
		if !slices.Contains(hosts, d) {
			return nil, usageError{fmt.Errorf("--down %s: not one of the machines (%s)", d, strings.Join(hosts, ", "))}
		}
		down[d] = true
	}
	u := nginx.Upstream{Name: name, Refusing: manager.SwapOf(cfg).RefusesConnects(), Hash: cfg.Proxy.Hash}
	if len(o.hosts) == 0 {
		u.Host, u.Ports = hosts[0], cfg.Ports
		if down[hosts[0]] {
			u.Down = map[int]bool{}
			for _, p := range cfg.Ports {
				u.Down[p] = true
			}
		}
		return u.Render(), nil
	}
	for i, h := range hosts {
		if err := checkHost(h); err != nil {
			return nil, usageError{fmt.Errorf("--host %s: %w", h, err)}
		}
		if slices.Contains(hosts[:i], h) {
			return nil, usageError{fmt.Errorf("--host %s given twice", h)}
		}
		u.Hosts = append(u.Hosts, nginx.Host{Addr: h, Ports: cfg.Ports, Down: down[h]})
	}
	return u.Render(), nil
}

var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

// checkHost accepts an IP address nginx can connect to, or a host name.
func checkHost(h string) error {
	if a, err := netip.ParseAddr(h); err == nil {
		if a.IsUnspecified() || a.Zone() != "" {
			return errors.New("want an address nginx can connect to")
		}
		return nil
	}
	if !hostName.MatchString(h) {
		return errors.New(`want an IP address or a host name, without a port, like 10.0.0.11`)
	}
	return nil
}

// httpPart is what goes in nginx's http block for cfg.
func httpPart(cfg *config.Config) string {
	if cfg.Nginx != nil {
		return fmt.Sprintf("# hellomgr writes this file: the upstream %s, rewritten at every rollout.\ninclude %s;\n",
			cfg.Nginx.Upstream, cfg.Nginx.UpstreamFile)
	}
	u := nginx.Upstream{Name: upstreamName(cfg), Host: cfg.InstanceHost(), Ports: cfg.Ports, Refusing: manager.SwapOf(cfg).RefusesConnects(), Hash: cfg.Proxy.Hash}
	return string(u.Render())
}

var upstreamNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// upstreamName is --upstream, or the config's name for the upstream. With
// an nginx: section the name is nginx.upstream, in the file hellomgr
// writes: another would print a location for an upstream nginx lacks.
func (o nginxOpts) upstreamName(cfg *config.Config) (string, error) {
	if o.name == "" {
		return upstreamName(cfg), nil
	}
	if !upstreamNameRE.MatchString(o.name) {
		return "", usageError{fmt.Errorf("--upstream %q: not a valid nginx upstream name (letters, digits, _, . and -)", o.name)}
	}
	if cfg.Nginx != nil && o.name != cfg.Nginx.Upstream {
		return "", usageError{fmt.Errorf("--upstream %s: %s has an nginx: section, whose upstream file names it %s; set nginx.upstream: %s there instead", o.name, cfg.File, cfg.Nginx.Upstream, o.name)}
	}
	return o.name, nil
}

func upstreamName(cfg *config.Config) string {
	if cfg.Nginx != nil {
		return cfg.Nginx.Upstream
	}
	return "hellomgr"
}
