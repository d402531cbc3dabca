package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/proc"
)

// result holds the figures of one size. Times are in seconds, latencies in
// milliseconds, memory in bytes.
type result struct {
	N              int          `json:"instances"`
	LoadAvg        [2]float64   `json:"load_average_1min"` // of the machine, when the size started and ended: the machine is shared
	UpCPU          float64      `json:"up_cpu_seconds"`    // CPU the manager and every instance had used once all were ready
	ReadySeconds   float64      `json:"up_all_ready_seconds"`
	Reload         reloadResult `json:"reload"`      // max_unavailable 1
	Wide           reloadResult `json:"reload_wide"` // the -wide max_unavailable, capped at N
	DownSeconds    float64      `json:"down_seconds"`
	IdleCPU        float64      `json:"manager_idle_cpu_fraction"`   // of one core
	InstancesCPU   float64      `json:"instances_idle_cpu_fraction"` // all instances together, of one core
	IdleSeconds    float64      `json:"idle_window_seconds"`
	MemAfterUp     memory       `json:"manager_memory_after_up"`
	MemIdle        memory       `json:"manager_memory_after_idle"` // after the idle window: the steady state
	MemAtEnd       memory       `json:"manager_memory_before_down"`
	RuntimeAfterUp goRuntime    `json:"manager_runtime_after_up"`
	RuntimeIdle    goRuntime    `json:"manager_runtime_after_idle"`
	Status         latency      `json:"status_latency"`               // `hellomgr status`, a process each time, run back to back
	StatusCold     latency      `json:"status_cold_latency"`          // `hellomgr status` with the manager's /proc readings expired: a status now and then
	StatusColdCPU  float64      `json:"status_cold_manager_cpu_ms"`   // manager CPU per such status
	VersionCold    latency      `json:"version_cold_latency"`         // `hellomgr version` after the same pause: start-up on a machine that was idle
	Version        latency      `json:"version_latency"`              // `hellomgr version`: the program's own start and exit, no config, no socket
	Floor          latency      `json:"go_process_floor_latency"`     // an empty Go program: the floor of any Go process here, now
	StatusSocket   latency      `json:"status_socket_latency"`        // GET /v1/status on the control socket: the manager's part
	StatusCPU      float64      `json:"status_socket_manager_cpu_ms"` // manager CPU per GET /v1/status, which load on the machine does not inflate
	StatusGCs      float64      `json:"status_socket_manager_gcs"`    // the manager's garbage collections per GET /v1/status
	Probe          latency      `json:"probe_latency"`
	ProbeCPU       float64      `json:"probe_manager_cpu_ms"`   // manager CPU per /probe?port=N, every instance probed once
	MetricsCPU     float64      `json:"metrics_manager_cpu_ms"` // manager CPU per /metrics scrape
	InstanceRSS    int64        `json:"instance_rss_bytes_median"`
}

// measureSize runs every measurement on a fresh deployment of n instances
// and cleans it up, whatever happens.
func measureSize(ctx context.Context, bins binaries, n int, o options) (r result, err error) {
	d, err := newDeployment(bins, n)
	if err != nil {
		return r, err
	}
	defer func() {
		if cerr := d.close(err != nil); cerr != nil && err == nil {
			err = cerr
		}
	}()
	r.N = n
	r.LoadAvg[0] = loadAvg()
	defer func() { r.LoadAvg[1] = loadAvg() }()
	steps := []struct {
		name string
		do   func() error
	}{
		{"up -d", func() error { return timeStep(&r.ReadySeconds, func() (time.Duration, error) { return d.up(ctx) }) }},
		{"CPU used to start", func() (err error) { r.UpCPU, err = d.cpuUsed(); return err }},
		{"memory after up", func() (err error) { r.MemAfterUp, r.RuntimeAfterUp, r.InstanceRSS, err = d.memory(ctx); return err }},
		{"idle CPU", func() error { return d.idleCPU(ctx, o.idle, &r) }},
		{"memory after idle", func() (err error) { r.MemIdle, r.RuntimeIdle, _, err = d.memory(ctx); return err }},
		{"status latency", func() (err error) { r.Status, r.Version, r.Floor, err = d.statusLatency(ctx, o.statusRuns); return err }},
		{"status latency, readings expired", func() (err error) {
			r.StatusCold, r.StatusColdCPU, r.VersionCold, err = d.coldStatusLatency(ctx, o.coldRuns)
			return err
		}},
		{"status over the socket", func() error { return d.socketStep(ctx, o.statusRuns, &r) }},
		{"probe latency", func() (err error) { r.Probe, err = d.probeLatency(ctx, o.scrapes); return err }},
		{"probe CPU", func() (err error) { r.ProbeCPU, err = d.probeCPU(ctx); return err }},
		{"/metrics CPU", func() (err error) { r.MetricsCPU, err = d.metricsCPU(ctx, o.scrapes); return err }},
		{"reload", func() (err error) { r.Reload, err = d.reload(ctx, 1); return err }},
		{"wide reload", func() (err error) { r.Wide, err = d.reload(ctx, min(o.wide, n)); return err }},
		{"memory at end", func() (err error) { r.MemAtEnd, _, _, err = d.memory(ctx); return err }},
		{"down", func() error { return timeStep(&r.DownSeconds, func() (time.Duration, error) { return d.down(ctx) }) }},
	}
	for _, s := range steps {
		logf("  %d: %s", n, s.name)
		if err := s.do(); err != nil {
			return r, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return r, nil
}

func timeStep(into *float64, f func() (time.Duration, error)) error {
	took, err := f()
	*into = took.Seconds()
	return err
}

// idleCPU measures the CPU time the manager and its instances use while
// nobody asks anything of them.
func (d *deployment) idleCPU(ctx context.Context, window time.Duration, r *result) error {
	procs := d.all()[1:] // the instances; the manager is first
	mgr0, err := cpuTime(d.manager.PID)
	if err != nil {
		return err
	}
	inst0 := cpuSum(procs)
	start := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(window):
	}
	wall := time.Since(start).Seconds()
	mgr1, err := cpuTime(d.manager.PID)
	if err != nil {
		return err
	}
	r.IdleSeconds = wall
	r.IdleCPU = (mgr1 - mgr0) / wall
	r.InstancesCPU = (cpuSum(procs) - inst0) / wall
	return nil
}

func cpuSum(procs []process) float64 {
	var sum float64
	for _, p := range procs {
		if t, err := cpuTime(p.PID); err == nil {
			sum += t
		}
	}
	return sum
}

// latency summarises samples, in milliseconds.
type latency struct {
	Median  float64   `json:"median_ms"`
	P95     float64   `json:"p95_ms"`
	Max     float64   `json:"max_ms"`
	Samples []float64 `json:"samples_ms"`
}

func summarize(samples []time.Duration) latency {
	ms := make([]float64, len(samples))
	for i, s := range samples {
		ms[i] = float64(s.Microseconds()) / 1000
	}
	sorted := slices.Sorted(slices.Values(ms))
	return latency{Median: percentile(sorted, 0.5), P95: percentile(sorted, 0.95), Max: sorted[len(sorted)-1], Samples: ms}
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// statusLatency runs `hellomgr status` as a user would, after one warm-up
// run that pages the binary in. In turn with each run it times
// `hellomgr version` and the empty Go program, so that all three see the
// same load on the machine: what of a status is start-up.
func (d *deployment) statusLatency(ctx context.Context, runs int) (status, version, floor latency, err error) {
	progs := []func() (time.Duration, error){
		func() (time.Duration, error) { return d.hellomgr(ctx, "status") },
		func() (time.Duration, error) { return timeRun(ctx, d.bin, "version") },
		func() (time.Duration, error) { return timeRun(ctx, d.floor) },
	}
	samples := make([][]time.Duration, len(progs))
	for i := range runs + 1 {
		for j, run := range progs {
			took, err := run()
			if err != nil {
				return status, version, floor, err
			}
			if i > 0 {
				samples[j] = append(samples[j], took)
			}
		}
	}
	return summarize(samples[0]), summarize(samples[1]), summarize(samples[2]), nil
}

// coldStatusLatency runs `hellomgr status` as a person does now and then:
// each run waits out proc.CacheInterval first, so that the manager reads
// every instance's /proc afresh, as the back-to-back runs of statusLatency
// almost never make it do. It also returns the manager's CPU time per
// run, in milliseconds, and, in turn with each status, `hellomgr version`
// after the same pause: what a process takes to start on a machine that
// has been idle for a second, which no status can save.
func (d *deployment) coldStatusLatency(ctx context.Context, runs int) (status latency, cpu float64, version latency, err error) {
	var samples, versions []time.Duration
	pause := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(proc.CacheInterval + 100*time.Millisecond):
			return nil
		}
	}
	for range runs {
		if err := pause(); err != nil {
			return status, 0, version, err
		}
		cpu0 := d.managerCPU()
		took, err := d.hellomgr(ctx, "status")
		if err != nil {
			return status, 0, version, err
		}
		cpu += d.managerCPU() - cpu0
		samples = append(samples, took)
		if err := pause(); err != nil {
			return status, 0, version, err
		}
		if took, err = timeRun(ctx, d.bin, "version"); err != nil {
			return status, 0, version, err
		}
		versions = append(versions, took)
	}
	return summarize(samples), cpu / float64(runs) * 1000, summarize(versions), nil
}

// socketStep measures the status report over the control socket, with the
// manager's CPU and garbage collections per request.
func (d *deployment) socketStep(ctx context.Context, runs int, r *result) error {
	before, err := d.scrapeMetrics(ctx)
	if err != nil {
		return err
	}
	if r.StatusSocket, r.StatusCPU, err = d.socketLatency(ctx, runs); err != nil {
		return err
	}
	after, err := d.scrapeMetrics(ctx)
	if err != nil {
		return err
	}
	const gcs = "go_gc_duration_seconds_count"
	r.StatusGCs = (after[gcs] - before[gcs]) / float64(runs)
	return nil
}

// socketLatency asks the control socket for the status report, on a new
// connection each time as `hellomgr status` does, without starting a
// process: what the manager itself takes to answer.
// It also returns the manager's CPU time per request, in milliseconds.
func (d *deployment) socketLatency(ctx context.Context, runs int) (latency, float64, error) {
	var samples []time.Duration
	var cpu0 float64
	for i := range runs + 1 {
		if i == 1 {
			cpu0 = d.managerCPU()
		}
		start := time.Now()
		r, err := control.Dial(d.cfg.Socket).Status(ctx)
		took := time.Since(start)
		if err != nil {
			return latency{}, 0, err
		}
		if len(r.Instances) != len(d.ports) {
			return latency{}, 0, fmt.Errorf("%d instances reported, want %d", len(r.Instances), len(d.ports))
		}
		if i > 0 {
			samples = append(samples, took)
		}
	}
	cpu := (d.managerCPU() - cpu0) / float64(runs) * 1000
	return summarize(samples), cpu, nil
}

func (d *deployment) managerCPU() float64 {
	t, _ := cpuTime(d.manager.PID)
	return t
}

// cpuUsed is the CPU time the manager and the instances it runs have used
// so far: right after up, what starting them all cost.
func (d *deployment) cpuUsed() (float64, error) {
	t, err := cpuTime(d.manager.PID)
	if err != nil {
		return 0, err
	}
	return t + cpuSum(d.all()[1:]), nil
}

// cpuTime is the CPU time pid has used, in seconds: the scheduler's
// nanosecond counts of its threads, /proc/PID/task/*/schedstat. The
// process-wide figure of /proc/PID/stat counts whole 10 ms ticks and rounds
// down: an instance that started in 6 ms would show none, and 256 of them
// still none. (Threads that have exited drop out of the sum; a Go program
// seldom ends one.) Without schedstat it falls back to the ticks.
func cpuTime(pid int) (float64, error) {
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/schedstat")
	if err == nil && len(tasks) > 0 {
		var sum int64
		for _, t := range tasks {
			data, err := os.ReadFile(t)
			var ns int64
			if err == nil {
				fmt.Sscan(string(data), &ns)
			}
			sum += ns
		}
		return float64(sum) / 1e9, nil
	}
	st, err := proc.Read(pid)
	return st.CPUSeconds, err
}

// loadAvg is the machine's 1-minute load average, or 0 if unknown.
func loadAvg() float64 {
	data, _ := os.ReadFile("/proc/loadavg")
	var v float64
	fmt.Sscan(string(data), &v)
	return v
}

// probeLatency scrapes /probe?port=N over one keep-alive connection, as
// Prometheus does, going round every port. One warm-up scrape first.
func (d *deployment) probeLatency(ctx context.Context, scrapes int) (latency, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	var samples []time.Duration
	for i := range scrapes + 1 {
		url := fmt.Sprintf("http://%s/probe?port=%d", d.metricsAddr, d.ports[i%len(d.ports)])
		start := time.Now()
		body, err := get(ctx, client, url)
		took := time.Since(start)
		if err != nil {
			return latency{}, err
		}
		if !bytes.Contains(body, []byte("hellomgr_instance_up 1")) {
			return latency{}, fmt.Errorf("%s: no hellomgr_instance_up 1 in:\n%s", url, lastLines(string(body), 10))
		}
		if i > 0 {
			samples = append(samples, took)
		}
	}
	return summarize(samples), nil
}

func get(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, err
}

// memory is the manager's memory as /proc/PID/status shows it, in bytes.
type memory struct {
	RSS     int64 `json:"vm_rss"`
	Peak    int64 `json:"vm_hwm"` // the largest RSS so far
	Anon    int64 `json:"rss_anon"`
	File    int64 `json:"rss_file"`
	Threads int   `json:"threads"`
	FDs     int   `json:"open_fds"`
}

// goRuntime is what the manager's own /metrics says of its Go runtime: where
// the anonymous memory goes.
type goRuntime map[string]float64

// runtimeSeries are the series of /metrics kept in the report.
var runtimeSeries = []string{
	"go_goroutines", "go_threads",
	"go_memstats_heap_inuse_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes",
	"go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes", "go_memstats_heap_objects",
	"go_memstats_next_gc_bytes", "go_gc_duration_seconds_count",
}

// memory reads the manager's memory, its Go runtime figures and the median
// RSS of its instances.
func (d *deployment) memory(ctx context.Context) (memory, goRuntime, int64, error) {
	m, err := readStatus(d.manager.PID)
	if err != nil {
		return m, nil, 0, err
	}
	if st, err := proc.Read(d.manager.PID); err == nil {
		m.FDs = st.OpenFDs
	}
	rt, err := d.scrapeRuntime(ctx)
	if err != nil {
		return m, nil, 0, err
	}
	var rss []int64
	for _, p := range d.all()[1:] {
		if st, err := proc.Read(p.PID); err == nil {
			rss = append(rss, st.RSSBytes)
		}
	}
	slices.Sort(rss)
	var median int64
	if len(rss) > 0 {
		median = rss[len(rss)/2]
	}
	return m, rt, median, nil
}

func readStatus(pid int) (memory, error) {
	var m memory
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return m, fmt.Errorf("manager memory: %w", err)
	}
	defer f.Close()
	fields := map[string]*int64{"VmRSS": &m.RSS, "VmHWM": &m.Peak, "RssAnon": &m.Anon, "RssFile": &m.File}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), ":")
		f := strings.Fields(value)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		if p, ok := fields[name]; ok {
			*p = n * 1024 // the file says kB
		}
		if name == "Threads" {
			m.Threads = int(n)
		}
	}
	return m, sc.Err()
}

// scrapeRuntime keeps runtimeSeries of the manager's /metrics.
func (d *deployment) scrapeRuntime(ctx context.Context) (goRuntime, error) {
	m, err := d.scrapeMetrics(ctx)
	if err != nil {
		return nil, err
	}
	rt := goRuntime{}
	for _, name := range runtimeSeries {
		rt[name] = m[name]
	}
	return rt, nil
}

// probeCPU probes every instance once, in turn, on one keep-alive
// connection as Prometheus does, and returns the manager's CPU time per
// probe, in milliseconds. The readings of /proc it shares with status
// are a second old at most: the bench waits that long first, so that
// each probe reads its process afresh.
func (d *deployment) probeCPU(ctx context.Context) (float64, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	time.Sleep(1100 * time.Millisecond) // proc.CacheInterval, and a little
	if _, err := get(ctx, client, fmt.Sprintf("http://%s/probe?port=%d", d.metricsAddr, d.ports[0])); err != nil {
		return 0, err // warms the connection up
	}
	cpu0 := d.managerCPU()
	for _, port := range d.ports {
		if _, err := get(ctx, client, fmt.Sprintf("http://%s/probe?port=%d", d.metricsAddr, port)); err != nil {
			return 0, err
		}
	}
	return (d.managerCPU() - cpu0) / float64(len(d.ports)) * 1000, nil
}

// metricsCPU scrapes the manager's /metrics n times and returns its CPU
// time per scrape, in milliseconds.
func (d *deployment) metricsCPU(ctx context.Context, n int) (float64, error) {
	if _, err := d.scrapeMetrics(ctx); err != nil {
		return 0, err
	}
	cpu0 := d.managerCPU()
	for range n {
		if _, err := get(ctx, d.http, "http://"+d.metricsAddr+"/metrics"); err != nil {
			return 0, err
		}
	}
	return (d.managerCPU() - cpu0) / float64(n) * 1000, nil
}
