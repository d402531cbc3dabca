package metrics

import (
	"log/slog"
	"os"
	"slices"
	"syscall"

	"github.com/hellomgr/hellomgr/internal/bugs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// The series of /metrics and /probe as client_golang collectors: the
// reference the tests hold the hand-written exposition to (promhttp
// writes these registries line for line as the handlers write theirs),
// and the form promlint checks. The server does not use them: they
// allocate at every scrape what the handlers do not.

// desc is the family's Desc for a collector, with the given labels.
func (s series) desc(labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(s.name, s.help, labels, nil)
}

var (
	upDesc         = upSeries.desc()
	stateDesc      = stateSeries.desc("state")
	restartsDesc   = restartsSeries.desc("reason")
	exitCodeDesc   = exitCodeSeries.desc()
	infoDesc       = infoSeries.desc("command")
	startDesc      = startSeries.desc()
	logDroppedDesc = logDroppedSeries.desc()
	cpuDesc        = cpuSeries.desc()
	rssDesc        = rssSeries.desc()
	fdsDesc        = fdsSeries.desc()
	threadsDesc    = threadsSeries.desc()
	procStartDesc  = procStartSeries.desc()
)

// instanceCollector reports one instance of a snapshot, and its process.
type instanceCollector struct {
	inst Instance
	read readFunc
}

func (instanceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{upDesc, stateDesc, restartsDesc, exitCodeDesc,
		infoDesc, startDesc, cpuDesc, rssDesc, fdsDesc, threadsDesc, procStartDesc} {
		ch <- d
	}
}

func (c instanceCollector) Collect(ch chan<- prometheus.Metric) {
	inst := c.inst
	running := c.collectProcess(ch)
	state := labelValue(inst.State)
	gauge(ch, upDesc, boolValue(running && state == "ready"))
	for _, s := range States {
		gauge(ch, stateDesc, boolValue(s == state), s)
	}
	if !slices.Contains(States[:], state) {
		gauge(ch, stateDesc, 1, state)
	}
	// Two reasons that become the same label value ("" and "unknown") are
	// added up: the registry refuses a series twice.
	restarts := make(map[string]uint64, len(inst.Restarts))
	for reason, n := range inst.Restarts {
		restarts[labelValue(reason)] += n
	}
	for reason, n := range restarts {
		ch <- prometheus.MustNewConstMetric(restartsDesc, prometheus.CounterValue, float64(n), reason)
	}
	gauge(ch, exitCodeDesc, float64(inst.LastExitCode))
	gauge(ch, infoDesc, 1, labelValue(inst.Command))
	if !inst.StartTime.IsZero() {
		gauge(ch, startDesc, seconds(inst.StartTime))
	}
	ch <- prometheus.MustNewConstMetric(logDroppedDesc, prometheus.CounterValue, float64(inst.LogDropped))
}

// collectProcess reports the instance's process and whether it runs (see
// readProcess). A process that runs but cannot be read fails its series
// alone, and the handler serves the others.
func (c instanceCollector) collectProcess(ch chan<- prometheus.Metric) (running bool) {
	p, err := readProcess(c.inst, c.read)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(cpuDesc, err)
	}
	if !p.read {
		return p.running
	}
	st := p.stats
	ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.CounterValue, st.CPUSeconds)
	gauge(ch, rssDesc, float64(st.RSSBytes))
	gauge(ch, fdsDesc, float64(st.OpenFDs))
	gauge(ch, threadsDesc, float64(st.Threads))
	gauge(ch, procStartDesc, seconds(st.StartTime))
	return true
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

var (
	instancesDesc       = instancesSeries.desc("state")
	internalErrorsDesc  = internalErrorsSeries.desc()
	rolloutsStartedDesc = rolloutsStartedSeries.desc()
	rolloutsDesc        = rolloutsSeries.desc("result")
	rolloutLastDesc     = rolloutLastSeries.desc()
	rolloutDurationDesc = rolloutDurationSeries.desc()
)

// managerCollector reports the manager-level series of a fresh snapshot at
// every scrape. The per-instance series are at /probe instead, one target
// per port, so that each has the instance label of its port.
type managerCollector struct {
	src Source
}

func (managerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- instancesDesc
	ch <- internalErrorsDesc
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

	ch <- prometheus.MustNewConstMetric(internalErrorsDesc, prometheus.CounterValue, float64(bugs.Count()))
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

// selfCollector reports the manager's own process as client_golang's
// process collector does, from read (see writeSelf).
type selfCollector struct {
	read readFunc
}

var (
	selfCPUDesc      = cpuSeries.desc()
	selfFDsDesc      = fdsSeries.desc()
	selfMaxFDsDesc   = maxFDsSeries.desc()
	selfVMDesc       = vmSeries.desc()
	selfMaxVMDesc    = maxVMSeries.desc()
	selfRSSDesc      = rssSeries.desc()
	selfStartDesc    = procStartSeries.desc()
	selfDescriptions = []*prometheus.Desc{selfCPUDesc, selfFDsDesc, selfMaxFDsDesc, selfVMDesc, selfMaxVMDesc, selfRSSDesc, selfStartDesc}
)

func (selfCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range selfDescriptions {
		ch <- d
	}
}

func (c selfCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.read(os.Getpid())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(selfCPUDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(selfCPUDesc, prometheus.CounterValue, st.CPUSeconds)
	gauge(ch, selfFDsDesc, float64(st.OpenFDs))
	gauge(ch, selfVMDesc, float64(st.VMBytes))
	gauge(ch, selfRSSDesc, float64(st.RSSBytes))
	gauge(ch, selfStartDesc, seconds(st.StartTime))
	for _, l := range []struct {
		d        *prometheus.Desc
		resource int
	}{{selfMaxFDsDesc, syscall.RLIMIT_NOFILE}, {selfMaxVMDesc, syscall.RLIMIT_AS}} {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(l.resource, &lim); err != nil {
			slog.Error("getrlimit: "+err.Error(), "component", "metrics")
			continue
		}
		gauge(ch, l.d, float64(lim.Cur))
	}
}

// cumulative returns the buckets as Prometheus wants them: by upper bound,
// each counting every duration at or below it.
func (h *Histogram) cumulative() map[float64]uint64 {
	b := make(map[float64]uint64, len(rolloutBuckets))
	var n uint64
	for i, bound := range rolloutBuckets {
		n += h.counts[i]
		b[bound] = n
	}
	return b
}

// managerRegistry holds what /metrics serves, in the form of client_golang
// collectors: the tests check that metricsHandler writes what promhttp
// writes for it, and lint it.
func managerRegistry(src Source, read readFunc) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		selfCollector{read: read},
		managerCollector{src: src},
	)
	return reg
}

// probeRegistry holds what one /probe scrape serves, in the same form,
// for probeHandler's tests.
func probeRegistry(inst Instance, read readFunc) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(instanceCollector{inst: inst, read: read})
	return reg
}
