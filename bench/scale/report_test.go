package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	sorted := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	for _, c := range []struct{ p, want float64 }{{0.5, 10}, {0.95, 19}, {1, 20}, {0, 1}} {
		if got := percentile(sorted, c.p); got != c.want {
			t.Errorf("percentile(1..20, %v) = %v, want %v", c.p, got, c.want)
		}
	}
}

func TestSummarizeKeepsSamplesInOrder(t *testing.T) {
	l := summarize([]time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond})
	if l.Median != 2 || l.Max != 3 || !slices.Equal(l.Samples, []float64{3, 1, 2}) {
		t.Errorf("summarize: got %+v, want median 2, max 3, samples [3 1 2]", l)
	}
}

func TestSuperLinearNamesWhatGrewFasterThanTheCount(t *testing.T) {
	cols := []column{
		{head: "linear", get: func(r result) float64 { return float64(r.N) }},
		{head: "quadratic", get: func(r result) float64 { return float64(r.N * r.N) }},
		{head: "zero at first", get: func(r result) float64 { return float64(r.N - 4) }},
	}
	got := superLinear(cols, result{N: 4}, result{N: 256})
	if !slices.Equal(got, []string{"quadratic"}) {
		t.Errorf("superLinear: got %v, want [quadratic]", got)
	}
}

func TestParseFlagsRejectsABadSize(t *testing.T) {
	if _, err := parseFlags([]string{"-sizes", "4,x"}); err == nil {
		t.Error("parseFlags(-sizes 4,x): no error")
	}
	o, err := parseFlags(nil)
	if err != nil || !slices.Equal(o.sizes, []int{4, 64, 256, 1024}) || o.idle != 30*time.Second || o.app != "small" {
		t.Errorf("parseFlags(): got %+v, %v; want sizes 4,64,256,1024, idle 30s and the small app", o, err)
	}
	if _, err := parseFlags([]string{"-app", "tornado"}); err == nil {
		t.Error("parseFlags(-app tornado): no error")
	}
	if o.coldRuns != 9 {
		t.Errorf("parseFlags(): -cold-runs %d, want 9", o.coldRuns)
	}
	if _, err := parseFlags([]string{"-cold-runs", "0"}); err == nil {
		t.Error("parseFlags(-cold-runs 0): no error")
	}
}

// statusResult is a size whose status figures add up: 9 ms a status, of
// which 2 any Go process, 3 hellomgr's own start, 1.5 the socket request.
func statusResult() result {
	return result{N: 256, Status: latency{Median: 9, P95: 11}, Floor: latency{Median: 2}, Version: latency{Median: 5},
		StatusSocket: latency{Median: 1.5}, StatusCold: latency{Median: 14, P95: 16}, StatusColdCPU: 8, VersionCold: latency{Median: 6}}
}

func TestPrintStatusSplitsTheMedian(t *testing.T) {
	var b strings.Builder
	printStatus(&b, []result{statusResult()})
	want := "| 256 | 9.00 | 2.00 | 3.00 | 1.50 | 2.50 | 14.00 | 6.00 |\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("printStatus: no row %q in:\n%s", want, b.String())
	}
}

func TestTargetsJudgeStatusBackToBackAndNowAndThen(t *testing.T) {
	var b strings.Builder
	printTargets(&b, []result{statusResult()}, columns(options{wide: 8}))
	for _, want := range []string{
		"- `hellomgr status` p50 under 10 ms at 256, run back to back: met (p50 9.0 ms, p95 11.0 ms, of which start-up (`hellomgr version`) 5.0 ms and any Go process 2.0 ms;",
		"- `hellomgr status` p50 under 10 ms at 256, now and then (the manager's /proc readings expired): NOT met (p50 14.0 ms, p95 16.0 ms, of which start-up after the same pause (`hellomgr version`) 6.0 ms; manager CPU 8.00 ms per status)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("printTargets: no line starting %q in:\n%s", want, b.String())
		}
	}
}

func TestGrowthKind(t *testing.T) {
	for _, tc := range []struct {
		a, b float64
		want string
	}{
		{1, 1.1, "flat (k=0.03)"},
		{1, 4, "sub-linear (k=0.50)"},
		{1, 16, "linear (k=1.00)"},
		{1, 256, "WORSE (k=2.00)"},
		{0, 3, "n/a"},
	} {
		if got := growthKind(tc.a, tc.b, 64, 1024); got != tc.want {
			t.Errorf("growthKind(%v, %v, 64, 1024): got %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}
