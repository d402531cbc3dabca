package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// reloadResult is one rollout of the unchanged config: every instance is
// replaced.
type reloadResult struct {
	MaxUnavailable int     `json:"max_unavailable"`
	Seconds        float64 `json:"seconds"`         // the figure reported: CLIError empty, `hellomgr reload`'s wall time; else ManagerSeconds
	CLISeconds     float64 `json:"cli_seconds"`     // wall time of `hellomgr reload`, whether or not it succeeded
	ManagerSeconds float64 `json:"manager_seconds"` // hellomgr_rollout_last_duration_seconds, the manager's own timing
	// CLIError is set when `hellomgr reload` failed although the rollout
	// itself went on and succeeded in the manager (its progress stream was
	// cut): the figure is then the manager's own timing.
	CLIError string `json:"cli_error,omitempty"`
}

// reload rolls out the same config with the given max_unavailable and
// checks that every instance was replaced and is ready.
//
// When `hellomgr reload` fails, the rollout may still be running in the
// manager (a client that goes away does not stop it): the bench then waits
// for the manager to count it finished, and goes on if it succeeded,
// keeping the CLI's error in the result.
func (d *deployment) reload(ctx context.Context, maxUnavailable int) (reloadResult, error) {
	rr := reloadResult{MaxUnavailable: maxUnavailable}
	if err := d.writeConfig(maxUnavailable); err != nil {
		return rr, err
	}
	before := len(d.seen)
	took, cliErr := d.hellomgr(ctx, "reload")
	rr.CLISeconds, rr.Seconds = took.Seconds(), took.Seconds()
	m, err := d.waitRollouts(ctx, 2*time.Minute)
	if err != nil {
		return rr, errors.Join(cliErr, err)
	}
	if m[`hellomgr_rollouts_total{result="failed"}`] > 0 {
		return rr, errors.Join(cliErr, errors.New("the manager counts a failed rollout"))
	}
	rr.ManagerSeconds = m["hellomgr_rollout_last_duration_seconds"]
	if cliErr != nil {
		rr.CLIError = lastLines(cliErr.Error(), 1)
		rr.Seconds = rr.ManagerSeconds
		logf("  `hellomgr reload` failed (%s) but the rollout succeeded in the manager; using its own timing", rr.CLIError)
	}
	if err := d.refresh(ctx); err != nil {
		return rr, err
	}
	if got := len(d.seen) - before; got != len(d.ports) {
		return rr, fmt.Errorf("%d new instance processes after the reload, want %d", got, len(d.ports))
	}
	return rr, nil
}

// waitRollouts waits until the manager counts every rollout it started as
// finished, and returns its /metrics then.
func (d *deployment) waitRollouts(ctx context.Context, limit time.Duration) (map[string]float64, error) {
	deadline := time.Now().Add(limit)
	for {
		m, err := d.scrapeMetrics(ctx)
		if err != nil {
			return nil, err
		}
		started := m["hellomgr_rollouts_started_total"]
		finished := m[`hellomgr_rollouts_total{result="succeeded"}`] + m[`hellomgr_rollouts_total{result="failed"}`]
		if finished >= started {
			return m, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the rollout has not finished after %s (%v of %v)", limit, finished, started)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// scrapeMetrics reads the manager's /metrics into a map from each sample's
// name, labels included as the exposition writes them, to its value.
func (d *deployment) scrapeMetrics(ctx context.Context) (map[string]float64, error) {
	body, err := get(ctx, d.http, "http://"+d.metricsAddr+"/metrics")
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || strings.HasPrefix(line, "#") {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[i+1:], &v); err == nil {
			m[line[:i]] = v
		}
	}
	return m, nil
}
