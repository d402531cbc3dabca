package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

func TestTableHasOneRowPerManagerUpdateAndMethod(t *testing.T) {
	b := &bench{entries: []*entry{
		{res: &managerResult{Manager: "by hand", StartSeconds: 0.5}},
		{res: &managerResult{Manager: "hellomgr", StartSeconds: 1, Idle: &benchkit.Usage{RSSMeanBytes: 15 << 20},
			Updates: []updateResult{
				{Update: "hellomgr reload", Method: "GET", ClientKeepAlive: true, Served: 30000, Failed: 4, UpdateSeconds: 2},
				{Update: "hellomgr reload", Method: "GET", ClientKeepAlive: false, Served: 20000, UpdateSeconds: 3},
				{Update: "hellomgr reload", Method: "POST", ClientKeepAlive: true, Served: 30000, Error: "boom"},
			}}},
	}}
	var out bytes.Buffer
	printTable(&out, b)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want header, rule, by hand, hellomgr GET and POST:\n%s", len(lines), out.String())
	}
	for i, line := range lines {
		if n := strings.Count(line, "|"); n != 11 {
			t.Errorf("line %d has %d cells, want 10: %s", i+1, n-1, line)
		}
	}
	for _, want := range []string{
		"| by hand | — | — | — | — | — | — | 0.50 s | — | — |",
		"| hellomgr | hellomgr reload | GET | 30000 / 4 | 2.00 s (0.00 s) | 20000 / 0 | 3.00 s (0.00 s) | 1.00 s | 15.0 MiB | 0.00% |",
		"| hellomgr | hellomgr reload | POST | 30000 / 0 | failed: see JSON | — | — |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestLongestGapCountsEmptyBucketsBetweenServedOnes(t *testing.T) {
	b := map[int64]int{10: 5, 11: 3, 15: 1, 16: 2, 20: 1}
	if got := longestGap(b, 10, 20); got != 3 {
		t.Errorf("got %d buckets, want 3 (17, 18, 19)", got)
	}
	if got := longestGap(b, 10, 11); got != 0 {
		t.Errorf("got %d buckets, want 0", got)
	}
}

func TestParseFlagsRejectsWhatItCannotRun(t *testing.T) {
	for _, args := range [][]string{
		{"-clients", "sometimes"},
		{"-managers", "by-hand,systemd"},
		{"-idle", "0s"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("%v: want an error", args)
		}
	}
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.managers) != 4 || len(o.clients) != 2 || o.maxFails != -1 {
		t.Errorf("defaults: got %+v", o)
	}
}
