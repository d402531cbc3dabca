package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/nginx"
)

func newNginx() *cobra.Command {
	var cf configFlag
	c := &cobra.Command{
		Use:   "nginx",
		Short: "Print the nginx upstream block for the configured ports, and a location that uses it",
		Long: `nginx prints an upstream block listing every configured port (with
keep-alive to the instances) and a location block that proxies to it. Put the
upstream in nginx's http block and the location in a server block; or set
nginx.upstream_file in config.yaml and include that file, so that reload can
take each instance out of the upstream before stopping it.`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			name := "hellomgr"
			if cfg.Nginx != nil {
				name = cfg.Nginx.Upstream
			}
			u := nginx.Upstream{Name: name, Ports: cfg.Ports}
			out := c.OutOrStdout()
			fmt.Fprintf(out, "# In nginx's http { } block:\n%s\n# In a server { } block:\n%s", u.Render(), nginx.Location(name))
			return nil
		},
	}
	cf.register(c)
	return c
}
