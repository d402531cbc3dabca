package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/chart"
)

// handover runs one short wrk load with nginx logging which instance
// served each request, reloads once in the middle, and draws requests per
// second per instance: the picture of a rolling reload handing over port by
// port, for the README (docs/reload-<app>.png behind the printed front,
// docs/reload-<app>-<front>.png behind another).
func (b *bench) handover(ctx context.Context, a app, d *deployment, next func() int) error {
	logPath := filepath.Join(d.ngx.Prefix, "handover.log")
	conf, err := os.ReadFile(d.ngx.Conf)
	if err != nil {
		return err
	}
	logged := strings.Replace(string(conf), "access_log off;",
		"log_format handover '$msec $upstream_addr';\n    access_log "+logPath+" handover;", 1)
	if err := os.WriteFile(d.ngx.Conf, []byte(logged), 0o644); err != nil {
		return err
	}
	defer func() { // the measured runs keep the access log off
		os.WriteFile(d.ngx.Conf, conf, 0o644)
		d.ngx.Reload(context.WithoutCancel(ctx))
	}()
	if err := d.ngx.Reload(ctx); err != nil {
		return err
	}
	// wrk runs 2 s before the reload and 2 s after it, however long it
	// takes (a drain's lasts seconds): started for a minute, stopped with
	// SIGINT. A session of its own, as in the measured runs.
	start := time.Now()
	wrk := exec.CommandContext(ctx, "/usr/bin/wrk", "-t2", "-c32", "-d60s", d.ngx.URL())
	wrk.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if err := wrk.Start(); err != nil {
		return fmt.Errorf("wrk: %w", err)
	}
	time.Sleep(2 * time.Second)
	v := next()
	if err := a.install(b.root, d, v); err != nil {
		wrk.Process.Kill()
		wrk.Wait()
		return err
	}
	rr := reload(ctx, d, v)
	time.Sleep(2 * time.Second)
	wrk.Process.Signal(os.Interrupt)
	if err := wrk.Wait(); err != nil {
		return fmt.Errorf("wrk: %w", err)
	}
	if rr.Error != "" {
		return fmt.Errorf("reload: %s", rr.Error)
	}
	hits, err := readHits(logPath, start)
	if err != nil {
		return err
	}
	name := a.name
	if d.front.name != printed.name {
		name += "-" + d.front.name
	}
	path := filepath.Join(b.opts.chartDir, "reload-"+name+".png")
	title := fmt.Sprintf("%s, %s: requests per second per instance through nginx, one hellomgr reload", strings.ReplaceAll(a.label, "`", ""), d.front.label)
	marks := []chart.Mark{
		{At: rr.start.Sub(start).Seconds(), Label: fmt.Sprintf("hellomgr reload (%.2f s)", rr.Seconds)},
		{At: rr.end.Sub(start).Seconds()},
	}
	if err := chart.Draw(path, title, chart.Rates(hits, 0.05), marks); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "chart: %s (%d requests, reload %.2fs)\n", path, len(hits), rr.Seconds)
	return nil
}

// readHits parses the access log: "<msec> <upstream_addr>" per request. A
// request nginx passed on to a second instance names both; the last one
// answered.
func readHits(path string, start time.Time) ([]chart.Hit, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	origin := float64(start.UnixMilli()) / 1000
	var hits []chart.Hit
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		at, addr, ok := strings.Cut(sc.Text(), " ")
		sec, err := strconv.ParseFloat(at, 64)
		if !ok || err != nil || addr == "-" {
			continue
		}
		if i := strings.LastIndex(addr, ", "); i >= 0 {
			addr = addr[i+2:]
		}
		hits = append(hits, chart.Hit{At: sec - origin, Instance: addr})
	}
	return hits, sc.Err()
}
