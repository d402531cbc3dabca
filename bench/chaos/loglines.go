package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// lineCount is what the Tornado instances' log files hold of the numbered
// lines they wrote (app.py).
type lineCount struct {
	seen      int // numbered lines found
	processes int // instances (pids) that wrote some
	lost      int // missing from the files, outside every disk-full window
	inFull    int // missing, in a disk-full window: the manager's dropped counter must count them
	repeated  int
	gaps      []string // the gaps outside the windows, for the detail file
}

// numbered is one line found: its number and when it was written.
type numbered struct {
	n  int
	at time.Time
}

// countLines reads every log file in dir and finds, per pid, the numbers
// missing between the first and last line found: a missing line is one
// hellomgr lost, since the app writes them in order with one write(2)
// each. Lines missing from before the first one found count too (an
// instance numbers from 1). A gap whose time span meets one of full
// (with a second of slack) counts as dropped to a full disk.
func countLines(dir string, full []window) (lineCount, error) {
	byPID := map[int][]numbered{}
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return lineCount{}, err
	}
	for _, path := range files {
		if err := readNumbered(path, byPID); err != nil {
			return lineCount{}, err
		}
	}
	var c lineCount
	for pid, lines := range byPID {
		c.processes++
		slices.SortFunc(lines, func(a, b numbered) int { return a.n - b.n })
		prev := numbered{n: 0, at: lines[0].at.Add(-time.Duration(lines[0].n) * 25 * time.Millisecond)}
		for _, l := range lines {
			switch {
			case l.n == prev.n:
				c.repeated++
				continue
			case l.n > prev.n+1:
				missing := l.n - prev.n - 1
				if meets(prev.at, l.at, full) {
					c.inFull += missing
				} else {
					c.lost += missing
					c.gaps = append(c.gaps, fmt.Sprintf("%s %s lines lost: pid %d, %d to %d (%d lines)",
						prev.at.Format("15:04:05.000"), l.at.Format("15:04:05.000"), pid, prev.n+1, l.n-1, missing))
				}
			}
			c.seen++
			prev = l
		}
	}
	return c, nil
}

// meets reports whether [from, to] meets one of the windows, widened by
// a second each side.
func meets(from, to time.Time, ws []window) bool {
	for _, w := range ws {
		if !to.Before(w.began.Add(-time.Second)) && !from.After(w.ended.Add(time.Second)) {
			return true
		}
	}
	return false
}

// readNumbered adds the numbered lines of one file to byPID.
func readNumbered(path string, byPID map[int][]numbered) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "chaosline ")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 3 {
			continue // a line cut by a full disk
		}
		pid, err1 := strconv.Atoi(fields[0])
		n, err2 := strconv.Atoi(fields[1])
		ms, err3 := strconv.ParseInt(fields[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		byPID[pid] = append(byPID[pid], numbered{n: n, at: time.UnixMilli(ms)})
	}
	return sc.Err()
}
