// Command soak reloads 4 built-in instances 100 times in a row under load
// through a real nginx, and prints the failed requests (the target is 0)
// and the manager's goroutines, open fds and resident memory before and
// after: a manager that leaks a little per reload shows it here.
//
//	go -C bench run ./soak [-reloads 100] [-workers 16]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/nginx"
)

type options struct {
	reloads int
	workers int
	limit   time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.reloads, "reloads", 100, "reloads in a row")
	flag.IntVar(&o.workers, "workers", 16, "load workers, each on a keep-alive connection to nginx, alternating GET and POST")
	flag.DurationVar(&o.limit, "timeout", 9*time.Minute, "give up after this long")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.limit)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if err := benchkit.Check(benchkit.Nginx); err != nil {
		return err
	}
	root, err := benchkit.ModuleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "hmsoak")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := benchkit.Build(ctx, root, dir)
	if err != nil {
		return err
	}
	d, err := deploy(ctx, bin, dir)
	if err != nil {
		return err
	}
	defer d.close()
	ngx, err := startNginx(root, dir, d.ports)
	if err != nil {
		return err
	}
	defer ngx.Stop()
	r := benchkit.NewReport(root, "soak", "A soak: reloads in a row under load")
	if err := soak(ctx, o, d, ngx.URL(), r); err != nil {
		return err
	}
	path, err := r.Finish(os.Stdout, root)
	fmt.Println("raw figures:", path)
	if err == nil && r.Failed() > 0 {
		err = fmt.Errorf("%d targets NOT met", r.Failed())
	}
	return err
}

// soak runs the load, reloads o.reloads times, and reports to r.
func soak(ctx context.Context, o options, d *deployment, url string, r *benchkit.Report) error {
	load := startLoad(url, o.workers)
	time.Sleep(2 * time.Second) // warm: connections open, pools filled
	before, err := d.managerStats(ctx)
	if err != nil {
		load.stop()
		return err
	}
	began := time.Now()
	var reloadErrs []error
	for i := range o.reloads {
		if err := d.client.ReloadWith(ctx, control.ReloadOptions{}, nil); err != nil {
			reloadErrs = append(reloadErrs, fmt.Errorf("reload %d: %w", i+1, err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	took := time.Since(began)
	time.Sleep(time.Second) // after the load: let the last drains end
	sent, failures := load.stop()
	time.Sleep(2 * time.Second) // idle keep-alive connections close on their own
	after, err := d.managerStats(ctx)
	if err != nil {
		return err
	}
	report(r, o, took, sent, failures, reloadErrs, before, after)
	return nil
}

// startNginx runs deploy/nginx.conf in front of the ports, with an
// upstream as most sites have it: nginx's default max_fails=1
// fail_timeout=10s, keep-alive to the instances.
func startNginx(root, dir string, ports []int) (*benchkit.NginxServer, error) {
	prefix := filepath.Join(dir, "nginx")
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		return nil, err
	}
	upstreamFile := filepath.Join(dir, "upstream.conf")
	if err := (nginx.Upstream{Name: "hellomgr", Ports: ports}).WriteFile(upstreamFile); err != nil {
		return nil, err
	}
	port, err := benchkit.FreePorts(1)
	if err != nil {
		return nil, err
	}
	n := benchkit.NewNginx(prefix, port[0])
	if err := n.Start(root, upstreamFile); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}
