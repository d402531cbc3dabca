package metrics

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"

	"github.com/hellomgr/hellomgr/proc"
)

// probeHandler serves /probe, as blackbox_exporter serves its probes: one
// endpoint for every target, which the port parameter picks.
//
// It writes the text exposition by hand (exposition), the same as
// promhttp would write for probeRegistry, which the tests check: with
// hundreds of instances scraped every few seconds, a registry built per
// scrape, gathered through a channel and a goroutine, then gzipped, was
// most of the manager's CPU. It serves no gzip: the body is about 2 KB.
type probeHandler struct {
	src  Source
	read readFunc
}

func (h probeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	port, err := parsePort(r.URL.RawQuery)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	inst, ok := lookup(h.src, port)
	if !ok {
		http.Error(w, fmt.Sprintf("port %d is not configured", port), http.StatusBadRequest)
		return
	}
	p, err := readProcess(inst, h.read)
	if err != nil {
		slog.Error(err.Error(), "component", "metrics")
	}
	e := expositions.Get().(*exposition)
	e.b = e.b[:0]
	writeInstance(e, inst, p)
	writeRequests(e, h.src, port) // what nginx passed to it: requests.go
	hd := w.Header()
	hd["Content-Type"] = []string{textContentType}
	hd["Content-Length"] = []string{strconv.Itoa(len(e.b))}
	w.Write(e.b)
	expositions.Put(e)
}

// lookup finds the instance on port: through PortSource when src offers
// it, else in a whole snapshot.
func lookup(src Source, port int) (Instance, bool) {
	if ps, ok := src.(PortSource); ok {
		return ps.SnapshotPort(port)
	}
	return find(src.Snapshot(), port)
}

func find(snap Snapshot, port int) (Instance, bool) {
	for _, inst := range snap.Instances {
		if inst.Port == port {
			return inst, true
		}
	}
	return Instance{}, false
}

// process is what a probe knows of an instance's process.
type process struct {
	running bool       // there is a PID and the process has not gone
	read    bool       // stats holds a reading; false when running but unreadable
	stats   proc.Stats // when read
}

// readProcess reads the instance's process. It does not when there is no
// PID; a process gone since the snapshot was taken is not running. A
// process that runs but cannot be read is running, unread, and the error
// says why.
func readProcess(inst Instance, read readFunc) (process, error) {
	if inst.PID == 0 {
		return process{}, nil
	}
	st, err := read(inst.PID)
	if errors.Is(err, os.ErrNotExist) {
		return process{}, nil
	}
	if err != nil {
		return process{running: true}, fmt.Errorf("instance %d: %w", inst.Port, err)
	}
	return process{running: true, read: true, stats: st}, nil
}

// writeInstance writes the series of one instance and its process, in
// the order promhttp gives them: families by name, samples by label value.
func writeInstance(e *exposition, inst Instance, p process) {
	state := labelValue(inst.State)
	e.family(infoSeries.name, infoSeries.help, "gauge")
	e.labelled(infoSeries.name, "command", labelValue(inst.Command), 1)
	e.one(exitCodeSeries.name, exitCodeSeries.help, "gauge", float64(inst.LastExitCode))
	if len(inst.Restarts) > 0 {
		e.family(restartsSeries.name, restartsSeries.help, "counter")
		for _, r := range restartsByLabel(inst.Restarts) {
			e.labelled(restartsSeries.name, "reason", r.reason, float64(r.n))
		}
	}
	if !inst.StartTime.IsZero() {
		e.one(startSeries.name, startSeries.help, "gauge", seconds(inst.StartTime))
	}
	e.family(stateSeries.name, stateSeries.help, "gauge")
	other := !slices.Contains(States[:], state)
	for _, s := range sortedStates {
		if other && state < s {
			e.labelled(stateSeries.name, "state", state, 1)
			other = false
		}
		e.labelled(stateSeries.name, "state", s, boolValue(s == state))
	}
	if other {
		e.labelled(stateSeries.name, "state", state, 1)
	}
	e.one(upSeries.name, upSeries.help, "gauge", boolValue(p.running && state == "ready"))
	e.one(logDroppedSeries.name, logDroppedSeries.help, "counter", float64(inst.LogDropped))
	if !p.read {
		return
	}
	st := p.stats
	e.one(cpuSeries.name, cpuSeries.help, "counter", st.CPUSeconds)
	e.one(fdsSeries.name, fdsSeries.help, "gauge", float64(st.OpenFDs))
	e.one(rssSeries.name, rssSeries.help, "gauge", float64(st.RSSBytes))
	e.one(procStartSeries.name, procStartSeries.help, "gauge", seconds(st.StartTime))
	e.one(threadsSeries.name, threadsSeries.help, "gauge", float64(st.Threads))
}

// sortedStates is States in the order of their label values.
var sortedStates = slices.Sorted(slices.Values(States[:]))

type restartCount struct {
	reason string
	n      uint64
}

// restartsByLabel returns the restarts by label value, sorted; two reasons
// that become the same label value ("" and "unknown") are added up, as
// the collector does.
func restartsByLabel(m map[string]uint64) []restartCount {
	rs := make([]restartCount, 0, len(m))
	for reason, n := range m {
		rs = append(rs, restartCount{labelValue(reason), n})
	}
	slices.SortFunc(rs, func(a, b restartCount) int { return cmp.Compare(a.reason, b.reason) })
	out := rs[:0]
	for _, r := range rs {
		if len(out) > 0 && out[len(out)-1].reason == r.reason {
			out[len(out)-1].n += r.n
			continue
		}
		out = append(out, r)
	}
	return out
}
