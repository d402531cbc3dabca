package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)

// at is t0 plus s seconds.
func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func writeLines(t *testing.T, path string, pid int, nums []int) {
	t.Helper()
	var b strings.Builder
	for _, n := range nums {
		fmt.Fprintf(&b, "chaosline %d %d %d\n", pid, n, at(float64(n)).UnixMilli())
	}
	b.WriteString("some other output\nchaosline 7 8 cut by a full di\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCountLinesTellsLostFromDroppedToAFullDisk(t *testing.T) {
	dir := t.TempDir()
	// pid 10: 1-3, then 6-9 in a rotated file (4, 5 lost), 9 twice.
	writeLines(t, filepath.Join(dir, "8001-20261208T010000.log"), 10, []int{1, 2, 3})
	writeLines(t, filepath.Join(dir, "8001.log"), 10, []int{6, 7, 8, 9, 9})
	// pid 20: 1-20 and 30-40; 21-29 fall in the disk-full window below.
	var nums []int
	for n := 1; n <= 40; n++ {
		if n <= 20 || n >= 30 {
			nums = append(nums, n)
		}
	}
	writeLines(t, filepath.Join(dir, "8002.log"), 20, nums)
	full := []window{{began: at(23), ended: at(27)}}
	c, err := countLines(dir, full)
	if err != nil {
		t.Fatal(err)
	}
	if c.processes != 2 || c.seen != 7+31 || c.lost != 2 || c.inFull != 9 || c.repeated != 1 {
		t.Errorf("got %d processes, %d seen, %d lost, %d in the full window, %d repeated; want 2, 38, 2, 9, 1",
			c.processes, c.seen, c.lost, c.inFull, c.repeated)
	}
	res := result{LinesLost: c.lost, LinesInFull: c.inFull, LinesDropped: 3, DiskFullWindows: 1}
	if got := res.linesLost(2); got != 2+(9-3-2*2) {
		t.Errorf("lines lost with 3 counted dropped: got %d, want %d", got, 2+(9-3-4))
	}
}

func TestBlamePutsAFailureDownToTheFaultItMeets(t *testing.T) {
	r := &run{windows: []window{
		{step: 1, kind: "kill -9 instance", target: "tornado", began: at(10), ended: at(11), costly: true},
		{step: 2, kind: "reload", target: "tornado", began: at(30), ended: at(32)},
		{step: 3, kind: "disk full for the logs", target: "tornado", began: at(50), ended: at(52)},
	}}
	for _, c := range []struct {
		target string
		when   float64
		step   int // 0: none
		costly bool
	}{
		{"tornado", 15, 1, true},    // within costGrace of the kill
		{"built-in", 15, 0, false},  // the kill was on the other manager
		{"tornado", 31, 2, false},   // during a reload: promised 0
		{"built-in", 31, 0, false},  // a reload of the other manager
		{"built-in", 51, 3, false},  // a full disk is everyone's
		{"tornado", 40, 0, false},   // outside every fault
		{"tornado", 32.5, 2, false}, // a second after the reload still counts
	} {
		f := failure{target: c.target, began: at(c.when), ended: at(c.when)}
		w, costly := r.blame(f)
		step := 0
		if w != nil {
			step = w.step
		}
		if step != c.step || costly != c.costly {
			t.Errorf("%s failed at %.1fs: put down to step %d (costly %v), want step %d (costly %v)", c.target, c.when, step, costly, c.step, c.costly)
		}
	}
}
