// Command reqmetrics measures what counting every request nginx passes to
// an instance costs the manager (issue 22): nginx sends a line per request
// to the manager's Unix datagram socket (the access_log line `hellomgr
// nginx` prints), and the manager counts each attempt per port.
//
// It starts hellomgr (built from this module) with 4 built-in instances,
// nginx with exactly what `hellomgr nginx` prints (and a stub_status
// location, nginx's own count of requests), and wrk through nginx. Over
// one measured wrk run it reports:
//
//   - the rate through nginx, and the manager's CPU over the run, in % of
//     one core, and scaled to 10k requests/s (target: at most 2%);
//   - the requests nginx served that the manager never counted, from
//     nginx's own count (stub_status) against the manager's
//     hellomgr_request_log_datagrams_total (target: 0), and the gaps the
//     manager saw itself (hellomgr_request_log_lost_total).
//
// Each figure is printed with its target, and NOT met when missed. Linux
// queues at most net.unix.max_dgram_qlen datagrams on the socket (10 by
// default; systemd machines set 512): the bench prints it, and -qlen N sets
// it for the run (root) and puts the old value back afterwards.
//
//	go -C bench run ./reqmetrics
//
// Every process it starts is stopped by pid before it returns.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type options struct {
	duration    time.Duration
	warmup      time.Duration
	connections int
	threads     int
	qlen        int // 0: leave net.unix.max_dgram_qlen as it is
	timeout     time.Duration
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of the measured wrk run")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured wrk run before it")
	flag.IntVar(&o.connections, "connections", 32, "wrk connections")
	flag.IntVar(&o.threads, "threads", 2, "wrk threads")
	flag.IntVar(&o.qlen, "qlen", 0, "set net.unix.max_dgram_qlen to this for the run (root; put back after); 0 leaves it")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Minute, "limit for the whole run")
	flag.Parse()
	if flag.NArg() > 0 || o.connections < 1 || o.threads < 1 || o.qlen < 0 {
		fmt.Fprintln(os.Stderr, "usage: go -C bench run ./reqmetrics [-duration D] [-connections N] [-threads N] [-qlen N]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/reqmetrics:", err)
		os.Exit(1)
	}
}
