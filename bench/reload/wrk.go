package main

import (
	"context"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// startWrk runs wrk against url for at most d, in the background, with its
// script written to dir; served is the status that counts as served. The
// script counts served responses by 10 ms, so that throughput before a
// reload and during it can be told apart.
func startWrk(ctx context.Context, o options, dir string, l load, served int, url string, d time.Duration) (*benchkit.WrkRun, error) {
	return benchkit.StartWrk(ctx, benchkit.WrkConfig{
		URL: url, Method: l.method, KeepAlive: l.keepAlive, Served: served,
		Duration: d, Threads: o.threads, Connections: o.connections, Dir: dir,
	})
}
