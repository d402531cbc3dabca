package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The manager's own series, served at /metrics.
var (
	instancesDesc = prometheus.NewDesc("hellomgr_instances",
		"Configured instances, by state.", []string{"state"}, nil)
	rolloutsStartedDesc = prometheus.NewDesc("hellomgr_rollouts_started_total",
		"Rollouts started; those not counted in hellomgr_rollouts_total are running.", nil, nil)
	rolloutsDesc = prometheus.NewDesc("hellomgr_rollouts_total",
		"Rollouts finished, by result (succeeded, failed).", []string{"result"}, nil)
	rolloutLastDesc = prometheus.NewDesc("hellomgr_rollout_last_duration_seconds",
		"How long the last finished rollout took.", nil, nil)
	rolloutDurationDesc = prometheus.NewDesc("hellomgr_rollout_duration_seconds",
		"How long finished rollouts took, succeeded or failed.", nil, nil)
)

// managerCollector reports the manager-level series of a fresh snapshot at
// every scrape. The per-instance series are at /probe instead, one target
// per port, so that each has the instance label of its port.
type managerCollector struct {
	src Source
}

func (managerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- instancesDesc
	ch <- rolloutsStartedDesc
	ch <- rolloutsDesc
	ch <- rolloutLastDesc
	ch <- rolloutDurationDesc
}

func (c managerCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.src.Snapshot()

	byState := make(map[string]int, len(States))
	for _, s := range States {
		byState[s] = 0
	}
	for _, inst := range snap.Instances {
		byState[labelValue(inst.State)]++
	}
	for state, n := range byState {
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(n), state)
	}

	r := snap.Rollouts
	ch <- prometheus.MustNewConstMetric(rolloutsStartedDesc, prometheus.CounterValue, float64(r.Started))
	ch <- prometheus.MustNewConstMetric(rolloutsDesc, prometheus.CounterValue, float64(r.Succeeded), "succeeded")
	ch <- prometheus.MustNewConstMetric(rolloutsDesc, prometheus.CounterValue, float64(r.Failed), "failed")
	if r.LastDuration > 0 {
		ch <- prometheus.MustNewConstMetric(rolloutLastDesc, prometheus.GaugeValue, r.LastDuration.Seconds())
	}
	h := r.Durations
	ch <- prometheus.MustNewConstHistogram(rolloutDurationDesc, h.count, h.sum, h.cumulative())
}
