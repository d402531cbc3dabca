package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// Targets of issue 22.
const (
	targetCPU  = 2.0 // % of one core at 10k requests/s
	targetRate = 10000.0
)

const qlenFile = "/proc/sys/net/unix/max_dgram_qlen"

func run(ctx context.Context, o options) error {
	if err := benchkit.Check(benchkit.Nginx, benchkit.Wrk); err != nil {
		return err
	}
	if o.qlen > 0 {
		restore, err := setQlen(o.qlen)
		if err != nil {
			return err
		}
		defer restore()
	}
	dir, err := os.MkdirTemp("", "hmrq")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Printf("load average %s; net.unix.max_dgram_qlen %s\n", benchkit.LoadAverage(), readQlen())
	d, err := start(ctx, dir)
	if d != nil {
		defer d.stop()
	}
	if err != nil {
		return err
	}
	wrk := benchkit.WrkConfig{URL: d.nginx.URL(), Method: "GET", KeepAlive: true, Served: 200,
		Threads: o.threads, Connections: o.connections, Dir: dir}
	var off, on measurement
	for _, logged := range []bool{false, true} {
		if err := d.logging(ctx, logged); err != nil {
			return err
		}
		wrk.Duration = o.warmup
		if _, err := runWrk(ctx, wrk); err != nil {
			return err
		}
		time.Sleep(time.Second) // the warm-up's lines in
		m, err := measure(ctx, d, wrk, o.duration)
		if err != nil {
			return err
		}
		if logged {
			on = m
		} else {
			off = m
		}
	}
	report(off, on)
	if err := d.logging(ctx, false); err != nil { // nginx quiet: the replay alone
		return err
	}
	r, err := replay(ctx, d, int(targetRate), o.duration)
	if err != nil {
		return err
	}
	reportReplay(r)
	printWarnings(dir)
	return nil
}

// printWarnings prints the manager's warnings about the request log.
func printWarnings(dir string) {
	b, _ := os.ReadFile(filepath.Join(dir, ".hellomgr", "hellomgr.log"))
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, "nginx") && strings.Contains(line, "WARN") {
			fmt.Print("manager: ", line)
		}
	}
}

// measurement is one measured run.
type measurement struct {
	responses  int
	seconds    float64
	cpuPercent float64 // the manager's, of one core
	served     int64   // by nginx, from stub_status
	counted    float64 // by the manager
	lost       float64 // gaps the manager saw
	unparsable float64
}

func measure(ctx context.Context, d *deployment, wrk benchkit.WrkConfig, duration time.Duration) (measurement, error) {
	var m measurement
	n0, err := d.nginxRequests()
	if err != nil {
		return m, err
	}
	c0, err := d.logCounts()
	if err != nil {
		return m, err
	}
	sampler, err := benchkit.Sample(d.manager.PID, time.Second)
	if err != nil {
		return m, err
	}
	wrk.Duration = duration
	stats, werr := runWrk(ctx, wrk)
	usage, uerr := sampler.Stop()
	if werr != nil || uerr != nil {
		return m, fmt.Errorf("%v %v", werr, uerr)
	}
	time.Sleep(time.Second) // the last lines in
	n1, err := d.nginxRequests()
	if err != nil {
		return m, err
	}
	c1, err := d.logCounts()
	if err != nil {
		return m, err
	}
	const counted = `hellomgr_request_log_datagrams_total{result="counted"}`
	m = measurement{responses: stats.Responses, seconds: stats.Seconds, cpuPercent: usage.CPUPercent,
		served:  n1 - n0 - 1, // less the first stub_status request, counted in n1
		counted: c1[counted] - c0[counted], lost: c1["hellomgr_request_log_lost_total"] - c0["hellomgr_request_log_lost_total"],
		unparsable: c1[`hellomgr_request_log_datagrams_total{result="unparsable"}`] - c0[`hellomgr_request_log_datagrams_total{result="unparsable"}`]}
	return m, nil
}

func runWrk(ctx context.Context, c benchkit.WrkConfig) (benchkit.WrkStats, error) {
	w, err := benchkit.StartWrk(ctx, c)
	if err != nil {
		return benchkit.WrkStats{}, err
	}
	return w.Wait()
}

// report prints the run without the access_log line (off) and with it
// (on): the manager's CPU for the request log is the difference.
func report(off, on measurement) {
	rateOff, rate := float64(off.responses)/off.seconds, float64(on.responses)/on.seconds
	extra := max(on.cpuPercent-off.cpuPercent, 0)
	at10k := extra * targetRate / rate
	dropped := float64(on.served) - on.counted
	fmt.Printf("without the access_log line: %.0f requests/s through nginx, manager CPU %.2f%% of a core\n", rateOff, off.cpuPercent)
	fmt.Printf("with it:                     %.0f requests/s through nginx, manager CPU %.2f%% of a core\n", rate, on.cpuPercent)
	fmt.Printf("nginx served %d requests; the manager counted %.0f, saw %.0f lost and %.0f unparsable\n", on.served, on.counted, on.lost, on.unparsable)
	fmt.Printf("manager CPU for the request log: %.2f%% of a core at %.0f requests/s, %.2f%% scaled to 10k requests/s (target <= %.0f%%)%s\n",
		extra, rate, at10k, targetCPU, notMet(at10k <= targetCPU))
	fmt.Printf("datagrams dropped: %.0f of %d (%.3f%%) (target 0)%s\n", dropped, on.served, 100*dropped/max(float64(on.served), 1), notMet(dropped <= 0))
	if rate < targetRate {
		fmt.Printf("note: nginx served %.0f requests/s here, not 10k: the CPU at 10k is scaled from it\n", rate)
	}
	if q, _ := strconv.Atoi(readQlen()); dropped > 0 && q < 512 {
		fmt.Printf("hint: net.unix.max_dgram_qlen is %d; systemd machines set 512: run again with -qlen 512\n", q)
	}
}

// reportReplay prints the manager's CPU at exactly 10k lines a second.
func reportReplay(r measurement) {
	rate := float64(r.responses) / r.seconds
	missed := float64(r.served) - r.counted
	fmt.Printf("replayed %d of nginx's lines at %.0f a second straight to the socket: manager CPU %.2f%% of a core (target <= %.0f%%)%s\n",
		r.served, rate, r.cpuPercent, targetCPU, notMet(r.cpuPercent <= targetCPU))
	fmt.Printf("  of them %.0f refused by a full queue, %.0f missed by the manager, %.0f seen lost (target 0)%s\n",
		r.unparsable, missed, r.lost, notMet(missed <= 0 && r.unparsable == 0))
}

func notMet(ok bool) string {
	if ok {
		return ""
	}
	return "  NOT met"
}

func readQlen() string {
	b, _ := os.ReadFile(qlenFile)
	return strings.TrimSpace(string(b))
}

// setQlen writes net.unix.max_dgram_qlen and returns what puts it back.
func setQlen(n int) (func(), error) {
	old := readQlen()
	if err := os.WriteFile(qlenFile, []byte(strconv.Itoa(n)), 0o644); err != nil {
		return nil, fmt.Errorf("-qlen %d: %w (needs root)", n, err)
	}
	return func() { os.WriteFile(qlenFile, []byte(old), 0o644) }, nil
}
