package metrics

import (
	"bytes"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/proc"
	"github.com/prometheus/common/expfmt"
)

// anyRead reads every process as the same one, so that the manager's own
// process_* series have known values.
func anyRead(int) (proc.Stats, error) {
	return proc.Stats{CPUSeconds: 2.25, RSSBytes: 20 << 20, VMBytes: 1 << 30, OpenFDs: 40,
		Threads: 9, StartTime: fakeStart}, nil
}

// registryText is what promhttp writes for a registry: the text format.
func registryText(t *testing.T, src Source, read readFunc) string {
	t.Helper()
	mfs, _ := managerRegistry(src, read).Gather() // errors are an unreadable process's
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestMetricsExpositionMatchesTheRegistry checks that the hand-written
// /metrics is what promhttp writes for managerRegistry: line for line the
// same families, help texts, types, series and labels, and the same values
// but for the go_* series, whose values change between two readings of the
// runtime.
func TestMetricsExpositionMatchesTheRegistry(t *testing.T) {
	denied := func(int) (proc.Stats, error) { return proc.Stats{}, os.ErrPermission }
	var h Histogram
	h.Observe(1800 * time.Second)
	h.Observe(2 * time.Hour)
	for _, tc := range []struct {
		name string
		snap Snapshot
		read readFunc
	}{
		{"two instances, rollouts", twoInstances().snap, anyRead},
		{"no instance, no rollout", Snapshot{}, anyRead},
		{"unknown states", Snapshot{Instances: []Instance{{State: "zzz"}, {State: "aaa"}, {State: ""},
			{State: "zzz"}, {State: "ready"}, {State: "q\"\\\n"}, {State: "bad\xff"}}}, anyRead},
		{"buckets past the last", Snapshot{Rollouts: Rollouts{Started: 2, Failed: 2,
			LastDuration: 2 * time.Hour, Durations: h}}, anyRead},
		{"unreadable process", twoInstances().snap, denied},
	} {
		src := fakeSource{tc.snap}
		code, got := get(t, newHandler(src, tc.read), "/metrics")
		if code != http.StatusOK {
			t.Fatalf("%s: GET /metrics: got %d %s", tc.name, code, got)
		}
		want := registryText(t, src, tc.read)
		gotLines, wantLines := strings.Split(got, "\n"), strings.Split(want, "\n")
		if len(gotLines) != len(wantLines) {
			t.Errorf("%s: %d lines, want %d, as promhttp writes them:\n%s\nwant:\n%s",
				tc.name, len(gotLines), len(wantLines), got, want)
			continue
		}
		for i, g := range gotLines {
			w := wantLines[i]
			if strings.HasPrefix(w, "go_") {
				g, w = withoutValue(g), withoutValue(w)
			}
			if g != w {
				t.Errorf("%s: line %d: got %q, want %q, as promhttp writes it", tc.name, i+1, g, w)
			}
		}
	}
}

// withoutValue is a sample line without its value.
func withoutValue(line string) string {
	if i := strings.LastIndexByte(line, ' '); i >= 0 {
		return line[:i]
	}
	return line
}

// TestMetricsRuntimeValues checks that the go_* values are the runtime's:
// the ones that do not move between two readings are equal to the
// collector's.
func TestMetricsRuntimeValues(t *testing.T) {
	_, body := get(t, Handler(fakeSource{}), "/metrics")
	want := registryText(t, fakeSource{}, anyRead)
	for _, name := range []string{"go_gc_gogc_percent", "go_gc_gomemlimit_bytes",
		"go_sched_gomaxprocs_threads", `go_info{version="` + runtime.Version() + `"}`} {
		g, w := valueOf(body, name), valueOf(want, name)
		if g == "" || g != w {
			t.Errorf("%s: got %q, want %q", name, g, w)
		}
	}
	for _, name := range []string{"go_goroutines", "go_threads", "go_memstats_sys_bytes",
		"go_memstats_heap_objects", "go_memstats_next_gc_bytes", "go_memstats_alloc_bytes_total"} {
		if g := valueOf(body, name); g == "" || g == "0" {
			t.Errorf("%s: got %q, want a positive number", name, g)
		}
	}
}

// valueOf is the value of the sample named name (with its labels) in an
// exposition, or "".
func valueOf(text, name string) string {
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// discard is a ResponseWriter that keeps nothing and allocates nothing.
type discard struct{ h http.Header }

func (d discard) Header() http.Header       { return d.h }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// TestMetricsAllocations checks that a scrape allocates next to nothing
// beyond the Source's snapshot: the Content-Length header's value.
func TestMetricsAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops buffers at random")
	}
	h := metricsHandler{src: twoInstances(), read: anyRead}
	req, _ := http.NewRequest(http.MethodGet, "/metrics", nil)
	w := discard{h: make(http.Header, 4)}
	h.ServeHTTP(w, req)
	if ct, n := w.h.Get("Content-Type"), w.h.Get("Content-Length"); ct != textContentType || n == "" {
		t.Fatalf("GET /metrics: Content-Type %q, Content-Length %q; want %q and a length", ct, n, textContentType)
	}
	allocs := testing.AllocsPerRun(100, func() {
		clear(w.h)
		h.ServeHTTP(w, req)
	})
	if allocs > 3 {
		t.Errorf("GET /metrics: %.0f allocations per scrape, want at most 3", allocs)
	}
}

// countSource counts whole snapshots, to check that /metrics takes none
// when it can count states.
type countSource struct {
	fakeSource
	whole int
}

func (s *countSource) Snapshot() Snapshot { s.whole++; return s.snap }

func (s *countSource) CountStates(c *StateCounts) Rollouts {
	for _, inst := range s.snap.Instances {
		c.Add(inst.State)
	}
	return s.snap.Rollouts
}

func TestMetricsCountsStates(t *testing.T) {
	snap := twoInstances().snap
	snap.Instances = append(snap.Instances, Instance{State: "zzz"}, Instance{State: ""}, Instance{State: "zzz"})
	src := &countSource{fakeSource: fakeSource{snap}}
	_, got := get(t, newHandler(src, anyRead), "/metrics")
	want := registryText(t, src.fakeSource, anyRead)
	if g, w := managerLines(got), managerLines(want); g != w {
		t.Errorf("through CountStates:\n%s\nwant, as promhttp writes them:\n%s", g, w)
	}
	if src.whole != 0 {
		t.Errorf("%d whole snapshots taken for a scrape, want none", src.whole)
	}
}

// managerLines are the lines of the hellomgr_* families.
func managerLines(text string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		if strings.Contains(line, "hellomgr_") {
			b.WriteString(line)
		}
	}
	return b.String()
}
