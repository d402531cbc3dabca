package manager

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/nginx"
	"github.com/hellomgr/hellomgr/proc"
)

// With an `nginx:` section, an instance leaves the nginx upstream before it
// is stopped and comes back once its replacement is ready. This is what
// makes a swap invisible for apps that cannot drain themselves: a Tornado
// app dies at once on SIGTERM, cutting whatever request it holds, so nginx
// must stop sending it requests first.

// upstream is cfg's nginx upstream for ports, with down marked down.
func upstream(cfg *config.Config, ports, down []int) nginx.Upstream {
	u := nginx.Upstream{Name: cfg.Nginx.Upstream, Host: cfg.InstanceHost(), Ports: ports, Down: map[int]bool{}, Refusing: SwapOf(cfg).RefusesConnects(), Hash: cfg.Proxy.Hash}
	for _, p := range down {
		u.Down[p] = true
	}
	return u
}

// publish writes the upstream file for ports, with down marked down, and
// reloads nginx, unless nginx already has exactly that (each reload makes
// nginx start new workers). Without an nginx section it does nothing.
func (r *rollout) publish(ctx context.Context, ports, down []int) error {
	if r.cfg.Nginx == nil {
		return nil
	}
	// Ports stopped for maintenance stay out of rotation.
	u := upstream(r.cfg, ports, slices.Concat(down, r.m.heldPorts()))
	text := string(u.Render())
	if text == r.published {
		return nil
	}
	if err := u.WriteFile(r.cfg.Nginx.UpstreamFile); err != nil {
		return err
	}
	if err := nginx.Reload(ctx, r.cfg.Nginx.ReloadCommand); err != nil {
		return err
	}
	r.published = text
	return nil
}

// writeUpstream writes the upstream file with every port of cfg in it,
// without reloading nginx: `up` does this before starting anything, so
// that an unwritable file stops it early.
func writeUpstream(cfg *config.Config) error {
	if cfg.Nginx == nil {
		return nil
	}
	return upstream(cfg, cfg.Ports, nil).WriteFile(cfg.Nginx.UpstreamFile)
}

// ReloadNginx runs the config's nginx reload command, if it has one.
func (m *Manager) ReloadNginx(ctx context.Context) error {
	cfg := m.Config()
	if cfg.Nginx == nil {
		return nil
	}
	return nginx.Reload(ctx, cfg.Nginx.ReloadCommand)
}

// upstreamPorts is every port that runs during a rollout: the old config's
// and the new one's.
func (r *rollout) upstreamPorts() []int {
	ports := slices.Concat(r.old.Ports, r.cfg.Ports)
	slices.Sort(ports)
	return slices.Compact(ports)
}

// takeOut marks ports down in nginx and waits, up to the drain timeout,
// until no connection to them remains: nginx's old workers finish their
// requests and close their keep-alive connections as they exit.
func (m *Manager) takeOut(ctx context.Context, r *rollout, ports []int) error {
	if r.cfg.Nginx == nil || len(ports) == 0 {
		return nil
	}
	if err := r.publish(ctx, r.upstreamPorts(), ports); err != nil {
		return err
	}
	r.progress("%s: out of the nginx upstream, waiting for connections to end", config.PortList(ports))
	deadline := time.Now().Add(r.cfg.Nginx.DrainTimeout)
	for _, port := range ports {
		for {
			n, err := proc.Established(port)
			if err != nil || n == 0 {
				break
			}
			if time.Now().After(deadline) {
				r.progress("%d: %d connections still open after %s; stopping anyway", port, n, r.cfg.Nginx.DrainTimeout)
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// putBack returns every port to the upstream; after a halted rollout too,
// so nothing is left marked down.
func (m *Manager) putBack(ctx context.Context, r *rollout) error {
	if r.cfg.Nginx == nil {
		return nil
	}
	if err := r.publish(ctx, r.upstreamPorts(), nil); err != nil {
		return fmt.Errorf("put ports back into the nginx upstream: %w", err)
	}
	return nil
}
