package main

import (
	"context"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// startWrk runs wrk against url for the configured duration, in the
// background, with its script written to dir; served is the status that
// counts as served. The script counts served responses by 10 ms, so that
// throughput before a reload and during it can be told apart.
func startWrk(ctx context.Context, o options, dir, method string, keepAlive bool, served int, url string) (*benchkit.WrkRun, error) {
	return benchkit.StartWrk(ctx, benchkit.WrkConfig{
		URL: url, Method: method, KeepAlive: keepAlive, Served: served,
		Duration: o.duration, Threads: o.threads, Connections: o.connections, Dir: dir,
	})
}
