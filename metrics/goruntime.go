package metrics

import (
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"slices"
	"strings"
	"time"
)

// The manager's Go runtime, served at /metrics under the names, types and
// help texts of client_golang's default Go collector
// (collectors.NewGoCollector()): go_gc_duration_seconds, go_goroutines,
// go_threads, go_info, the go_memstats_* series, and go_gc_gogc_percent,
// go_gc_gomemlimit_bytes and go_sched_gomaxprocs_threads. The tests check
// them against that collector's output.
//
// They are read into a runtimeReading that a scrape takes from a pool and
// puts back, so that a scrape allocates nothing: that collector built a
// few hundred objects per scrape (protobuf messages, maps, a MemStats),
// and with the manager at GOGC 25 and hundreds of goroutines whose stacks
// every cycle scans, the collections they caused were most of the CPU of
// a scrape.

// The runtime/metrics samples read, by index in runtimeReading.samples:
// the three the collector serves as they are, then those it derives the
// go_memstats_* series from (memStatsFromRM in client_golang).
const (
	rmGOGC = iota
	rmMemoryLimit
	rmGOMAXPROCS
	rmTinyAllocs
	rmAllocsObjects
	rmFreesObjects
	rmAllocsBytes
	rmHeapObjects
	rmHeapGoal
	rmTotal
	rmHeapObjectsBytes
	rmHeapUnused
	rmHeapReleased
	rmHeapFree
	rmHeapStacks
	rmOSStacks
	rmMSpanInuse
	rmMSpanFree
	rmMCacheInuse
	rmMCacheFree
	rmProfilingBuckets
	rmMetadataOther
	rmOther
	rmCount
)

var rmNames = [rmCount]string{
	rmGOGC:             "/gc/gogc:percent",
	rmMemoryLimit:      "/gc/gomemlimit:bytes",
	rmGOMAXPROCS:       "/sched/gomaxprocs:threads",
	rmTinyAllocs:       "/gc/heap/tiny/allocs:objects",
	rmAllocsObjects:    "/gc/heap/allocs:objects",
	rmFreesObjects:     "/gc/heap/frees:objects",
	rmAllocsBytes:      "/gc/heap/allocs:bytes",
	rmHeapObjects:      "/gc/heap/objects:objects",
	rmHeapGoal:         "/gc/heap/goal:bytes",
	rmTotal:            "/memory/classes/total:bytes",
	rmHeapObjectsBytes: "/memory/classes/heap/objects:bytes",
	rmHeapUnused:       "/memory/classes/heap/unused:bytes",
	rmHeapReleased:     "/memory/classes/heap/released:bytes",
	rmHeapFree:         "/memory/classes/heap/free:bytes",
	rmHeapStacks:       "/memory/classes/heap/stacks:bytes",
	rmOSStacks:         "/memory/classes/os-stacks:bytes",
	rmMSpanInuse:       "/memory/classes/metadata/mspan/inuse:bytes",
	rmMSpanFree:        "/memory/classes/metadata/mspan/free:bytes",
	rmMCacheInuse:      "/memory/classes/metadata/mcache/inuse:bytes",
	rmMCacheFree:       "/memory/classes/metadata/mcache/free:bytes",
	rmProfilingBuckets: "/memory/classes/profiling/buckets:bytes",
	rmMetadataOther:    "/memory/classes/metadata/other:bytes",
	rmOther:            "/memory/classes/other:bytes",
}

// runtimeReading is one reading of the Go runtime, with room enough that
// reading again allocates nothing.
type runtimeReading struct {
	samples    [rmCount]rtmetrics.Sample
	gc         debug.GCStats
	quantiles  [5]time.Duration // of the GC pauses: min, 25%, 50%, 75%, max
	goroutines int
	threads    int
}

func newRuntimeReading() *runtimeReading {
	r := &runtimeReading{}
	for i, name := range rmNames {
		r.samples[i].Name = name
	}
	// Room for ReadGCStats's two copies of the pause history, so that it
	// does not allocate them at every call.
	const maxPause = len(runtime.MemStats{}.PauseNs)
	r.gc.Pause = make([]time.Duration, 0, 2*maxPause+3)
	r.gc.PauseEnd = make([]time.Time, 0, maxPause)
	return r
}

// read reads the runtime now.
func (r *runtimeReading) read() {
	r.goroutines = runtime.NumGoroutine()
	r.threads, _ = runtime.ThreadCreateProfile(nil)
	r.gc.PauseQuantiles = r.quantiles[:]
	debug.ReadGCStats(&r.gc)
	rtmetrics.Read(r.samples[:])
}

// u is a sample as an integer; 0 when this Go does not know it, as the
// collector does.
func (r *runtimeReading) u(i int) uint64 {
	if v := r.samples[i].Value; v.Kind() == rtmetrics.KindUint64 {
		return v.Uint64()
	}
	return 0
}

// f is a sample as the collector serves it.
func (r *runtimeReading) f(i int) float64 {
	switch v := r.samples[i].Value; v.Kind() {
	case rtmetrics.KindUint64:
		return float64(v.Uint64())
	case rtmetrics.KindFloat64:
		return v.Float64()
	}
	return 0
}

// goSeries is one go_* family of a single sample.
type goSeries struct {
	name, help, typ string
	label, value    string // a constant label: go_info's version
	of              func(r *runtimeReading) float64
}

// gcDurationSeries is the one summary, written apart: its samples are
// quantiles.
var gcDurationSeries = series{"go_gc_duration_seconds",
	"A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles."}

// goSeriesList is every other go_* family, in the order of their names,
// as the text format wants them.
var goSeriesList = sortedGoSeries(append([]goSeries{
	{name: "go_goroutines", help: "Number of goroutines that currently exist.", typ: "gauge",
		of: func(r *runtimeReading) float64 { return float64(r.goroutines) }},
	{name: "go_threads", help: "Number of OS threads created.", typ: "gauge",
		of: func(r *runtimeReading) float64 { return float64(r.threads) }},
	{name: "go_info", help: "Information about the Go environment.", typ: "gauge",
		label: "version", value: runtime.Version(),
		of: func(*runtimeReading) float64 { return 1 }},
	{name: "go_memstats_last_gc_time_seconds", help: "Number of seconds since 1970 of last garbage collection.", typ: "gauge",
		of: func(r *runtimeReading) float64 { return float64(r.gc.LastGC.UnixNano()) / 1e9 }},
}, memstatsSeries...))

// memstatsSeries are the go_memstats_* series the collector derives from
// runtime/metrics, with its help texts.
var memstatsSeries = []goSeries{
	memstat("alloc_bytes", "gauge",
		"Number of bytes allocated in heap and currently in use. Equals to /memory/classes/heap/objects:bytes.", rmHeapObjectsBytes),
	memstat("alloc_bytes_total", "counter",
		"Total number of bytes allocated in heap until now, even if released already. Equals to /gc/heap/allocs:bytes.", rmAllocsBytes),
	memstat("sys_bytes", "gauge",
		"Number of bytes obtained from system. Equals to /memory/classes/total:byte.", rmTotal),
	memstat("mallocs_total", "counter",
		"Total number of heap objects allocated, both live and gc-ed. Semantically a counter version for go_memstats_heap_objects gauge. Equals to /gc/heap/allocs:objects + /gc/heap/tiny/allocs:objects.", rmAllocsObjects, rmTinyAllocs),
	memstat("frees_total", "counter",
		"Total number of heap objects frees. Equals to /gc/heap/frees:objects + /gc/heap/tiny/allocs:objects.", rmFreesObjects, rmTinyAllocs),
	memstat("heap_alloc_bytes", "gauge",
		"Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals to /memory/classes/heap/objects:bytes.", rmHeapObjectsBytes),
	memstat("heap_sys_bytes", "gauge",
		"Number of heap bytes obtained from system. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes + /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", rmHeapObjectsBytes, rmHeapUnused, rmHeapReleased, rmHeapFree),
	memstat("heap_idle_bytes", "gauge",
		"Number of heap bytes waiting to be used. Equals to /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", rmHeapReleased, rmHeapFree),
	memstat("heap_inuse_bytes", "gauge",
		"Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes", rmHeapObjectsBytes, rmHeapUnused),
	memstat("heap_released_bytes", "gauge",
		"Number of heap bytes released to OS. Equals to /memory/classes/heap/released:bytes.", rmHeapReleased),
	memstat("heap_objects", "gauge",
		"Number of currently allocated objects. Equals to /gc/heap/objects:objects.", rmHeapObjects),
	memstat("stack_inuse_bytes", "gauge",
		"Number of bytes obtained from system for stack allocator in non-CGO environments. Equals to /memory/classes/heap/stacks:bytes.", rmHeapStacks),
	memstat("stack_sys_bytes", "gauge",
		"Number of bytes obtained from system for stack allocator. Equals to /memory/classes/heap/stacks:bytes + /memory/classes/os-stacks:bytes.", rmHeapStacks, rmOSStacks),
	memstat("mspan_inuse_bytes", "gauge",
		"Number of bytes in use by mspan structures. Equals to /memory/classes/metadata/mspan/inuse:bytes.", rmMSpanInuse),
	memstat("mspan_sys_bytes", "gauge",
		"Number of bytes used for mspan structures obtained from system. Equals to /memory/classes/metadata/mspan/inuse:bytes + /memory/classes/metadata/mspan/free:bytes.", rmMSpanInuse, rmMSpanFree),
	memstat("mcache_inuse_bytes", "gauge",
		"Number of bytes in use by mcache structures. Equals to /memory/classes/metadata/mcache/inuse:bytes.", rmMCacheInuse),
	memstat("mcache_sys_bytes", "gauge",
		"Number of bytes used for mcache structures obtained from system. Equals to /memory/classes/metadata/mcache/inuse:bytes + /memory/classes/metadata/mcache/free:bytes.", rmMCacheInuse, rmMCacheFree),
	memstat("buck_hash_sys_bytes", "gauge",
		"Number of bytes used by the profiling bucket hash table. Equals to /memory/classes/profiling/buckets:bytes.", rmProfilingBuckets),
	memstat("gc_sys_bytes", "gauge",
		"Number of bytes used for garbage collection system metadata. Equals to /memory/classes/metadata/other:bytes.", rmMetadataOther),
	memstat("other_sys_bytes", "gauge",
		"Number of bytes used for other system allocations. Equals to /memory/classes/other:bytes.", rmOther),
	memstat("next_gc_bytes", "gauge",
		"Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes.", rmHeapGoal),
}

// memstat is the series go_memstats_<name>: the sum of the samples is.
func memstat(name, typ, help string, is ...int) goSeries {
	return goSeries{name: "go_memstats_" + name, help: help, typ: typ, of: func(r *runtimeReading) float64 {
		var n uint64
		for _, i := range is {
			n += r.u(i)
		}
		return float64(n)
	}}
}

// sortedGoSeries adds the runtime/metrics series the collector serves as
// they are (those this Go knows), named and described as it does, and
// sorts the whole by name.
func sortedGoSeries(list []goSeries) []goSeries {
	descriptions := rtmetrics.All()
	for _, i := range []int{rmGOGC, rmMemoryLimit, rmGOMAXPROCS} {
		j := slices.IndexFunc(descriptions, func(d rtmetrics.Description) bool { return d.Name == rmNames[i] })
		if j < 0 {
			continue
		}
		d := descriptions[j]
		typ := "gauge"
		if d.Cumulative {
			typ = "counter"
		}
		list = append(list, goSeries{name: runtimeMetricName(d), typ: typ,
			help: d.Description + " Sourced from " + d.Name + ".",
			of:   func(r *runtimeReading) float64 { return r.f(i) }})
	}
	slices.SortFunc(list, func(a, b goSeries) int { return strings.Compare(a.name, b.name) })
	return list
}

// runtimeMetricName names a runtime/metrics metric as client_golang does:
// "/sched/gomaxprocs:threads" is go_sched_gomaxprocs_threads.
func runtimeMetricName(d rtmetrics.Description) string {
	key, unit, _ := strings.Cut(d.Name, ":")
	r := strings.NewReplacer("/", "_", "-", "_", "*", "_")
	name := "go" + r.Replace(key) + "_" + strings.NewReplacer("-", "_", "*", "_", "/", "_per_").Replace(unit)
	if d.Cumulative {
		name += "_total"
	}
	return name
}

// writeGoRuntime writes the go_* families of a reading.
func writeGoRuntime(e *exposition, r *runtimeReading) {
	e.family(gcDurationSeries.name, gcDurationSeries.help, "summary")
	for i, q := range r.quantiles {
		e.bound(gcDurationSeries.name, "", "quantile", float64(i)/float64(len(r.quantiles)-1), q.Seconds())
	}
	e.suffixed(gcDurationSeries.name, "_sum", r.gc.PauseTotal.Seconds())
	e.suffixed(gcDurationSeries.name, "_count", float64(r.gc.NumGC))
	for _, s := range goSeriesList {
		e.family(s.name, s.help, s.typ)
		if s.label != "" {
			e.labelled(s.name, s.label, s.value, s.of(r))
		} else {
			e.sample(s.name, s.of(r))
		}
	}
}
