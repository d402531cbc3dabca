package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// replay sends the manager's request log socket rate lines a second for
// duration, each as nginx writes it (a syslog header, then the format of
// `hellomgr nginx`), spread over the 4 ports, paced by the millisecond,
// and measures the manager's CPU meanwhile. Through nginx, this machine
// may not reach 10k requests/s (its two cores are shared): the manager's
// cost depends only on the lines it reads, so this measures it at exactly
// the target rate. It returns the manager's CPU and the lines it missed.
func replay(ctx context.Context, d *deployment, rate int, duration time.Duration) (measurement, error) {
	var m measurement
	socket, err := d.socket()
	if err != nil {
		return m, err
	}
	w, err := net.Dial("unixgram", socket)
	if err != nil {
		return m, fmt.Errorf("dial the request log socket %s: %w", socket, err)
	}
	defer w.Close()
	c0, err := d.logCounts()
	if err != nil {
		return m, err
	}
	sampler, err := benchkit.Sample(d.manager.PID, time.Second)
	if err != nil {
		return m, err
	}
	sent, failed := 0, 0
	begun := time.Now()
	tick := time.NewTicker(time.Millisecond)
	for time.Since(begun) < duration && ctx.Err() == nil {
		<-tick.C
		for want := int(time.Since(begun).Seconds() * float64(rate)); sent < want; sent++ {
			// conn sent/1000, rank in it: what a keep-alive client makes
			line := fmt.Sprintf("<190>Dec  8 01:02:03 hellomgr: hm1\t%d\t%d\t127.0.0.1:%d\t200\t0.001\tGET",
				sent/1000+1, sent%1000+1, d.ports[sent%len(d.ports)])
			if _, err := w.Write([]byte(line)); err != nil {
				failed++ // the queue was full: what nginx would lose
			}
		}
	}
	tick.Stop()
	secs := time.Since(begun).Seconds()
	usage, err := sampler.Stop()
	if err != nil {
		return m, err
	}
	time.Sleep(time.Second)
	c1, err := d.logCounts()
	if err != nil {
		return m, err
	}
	const counted = `hellomgr_request_log_datagrams_total{result="counted"}`
	return measurement{responses: sent, seconds: secs, cpuPercent: usage.CPUPercent, served: int64(sent),
		counted: c1[counted] - c0[counted], lost: c1["hellomgr_request_log_lost_total"] - c0["hellomgr_request_log_lost_total"],
		unparsable: float64(failed)}, nil
}

// socket is the request log socket's path, from the access_log line.
func (d *deployment) socket() (string, error) {
	_, rest, ok := strings.Cut(d.location, "syslog:server=unix:")
	if !ok {
		return "", fmt.Errorf("hellomgr nginx printed no access_log to a unix socket:\n%s", d.location)
	}
	path, _, _ := strings.Cut(rest, ",")
	return filepath.Clean(path), nil
}
