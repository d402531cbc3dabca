package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/manager"
	"github.com/hellomgr/hellomgr/nginx"
)

func newNginx() *cobra.Command {
	var cf configFlag
	c := &cobra.Command{
		Use:   "nginx",
		Short: "Print the nginx upstream for the configured ports, and a location that uses it",
		Long: `nginx prints what goes in nginx's http block, then a location block for a
server block that proxies to it, with keep-alive to the instances. Under it,
a rollout of this config loses no request that nginx can save.

Without an nginx: section, the http part is an upstream block listing every
port. Where a port refuses connects while its process restarts
(reload.handoff: none), each server line has max_fails=0, so that a refused
connect never takes a port out of rotation. With an nginx: section, it is an
include of nginx.upstream_file, which hellomgr writes and rewrites at every
rollout to take each port out before stopping it.`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			fmt.Fprintf(out, "# In nginx's http { } block:\n%s\n# In a server { } block:\n%s", httpPart(cfg), nginx.Location(upstreamName(cfg)))
			return nil
		},
	}
	cf.register(c)
	return c
}

// httpPart is what goes in nginx's http block for cfg.
func httpPart(cfg *config.Config) string {
	if cfg.Nginx != nil {
		return fmt.Sprintf("# hellomgr writes this file: the upstream %s, rewritten at every rollout.\ninclude %s;\n",
			cfg.Nginx.Upstream, cfg.Nginx.UpstreamFile)
	}
	u := nginx.Upstream{Name: upstreamName(cfg), Ports: cfg.Ports, Refusing: manager.SwapOf(cfg).RefusesConnects()}
	return string(u.Render())
}

func upstreamName(cfg *config.Config) string {
	if cfg.Nginx != nil {
		return cfg.Nginx.Upstream
	}
	return "hellomgr"
}
