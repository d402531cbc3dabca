package benchkit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestReportRendersTheSameFromItsJSON: what a bench prints and what
// bench/figures renders from bench/out/<bench>.json are the same text,
// with every missed target marked NOT met.
func TestReportRendersTheSameFromItsJSON(t *testing.T) {
	r := &Report{Bench: "demo", Title: "Demo", Command: "go -C bench run ./demo", Date: "2026-12-08T00:00:00Z",
		Commit: "abc123", CPUs: 2, LoadBefore: "1.00 0.50 0.25", LoadAfter: "2.00 1.00 0.50",
		Notes: []string{"What was measured."}, Tables: []Table{{Columns: []string{"a", "b"}, Rows: [][]string{{"1", "2"}}}}}
	r.Target(true, "x %d, target at most %d", 1, 2)
	r.Target(false, "y %d, target at most %d", 3, 2)
	var printed, rendered bytes.Buffer
	r.Markdown(&printed, "##")
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.Markdown(&rendered, "##")
	if printed.String() != rendered.String() {
		t.Errorf("printed:\n%s\nrendered from JSON:\n%s", printed.String(), rendered.String())
	}
	for _, want := range []string{"## Demo\n", "commit abc123", "load average 1.00 0.50 0.25 before", "| a | b |\n| --- | --- |\n| 1 | 2 |",
		"- x 1, target at most 2: met\n", "- y 3, target at most 2: NOT met\n"} {
		if !strings.Contains(printed.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, printed.String())
		}
	}
	if r.Failed() != 1 {
		t.Errorf("Failed() = %d, want 1", r.Failed())
	}
	if m := Median([]float64{3, 1, 2, 10}); m != 2.5 {
		t.Errorf("Median = %v, want 2.5", m)
	}
}
