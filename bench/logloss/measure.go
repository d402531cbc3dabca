package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
	"github.com/hellomgr/hellomgr/logs"
)

// result is what one run measured.
type result struct {
	seconds                      float64 // from up -d returning to the last line in the files
	files, maxFileBytes          int64
	filesLost, filesRepeated     int
	followLost, followRepeated   int
	managerCPU                   float64 // percent of a core while the lines were written
	managerRSSMax, managerRSSEnd int64
	dropped                      string // the manager's warnings about dropped lines, if any
}

const maxSize = 1 << 20

func measure(ctx context.Context, o options, dir, bin, self string) (*result, error) {
	ports, err := benchkit.FreePorts(1)
	if err != nil {
		return nil, err
	}
	port := ports[0]
	config := filepath.Join(dir, "config.yaml")
	yaml := fmt.Sprintf("ports: [%d]\ncommand: [%q, -app, -port, \"{port}\", -lines, %q, -rate, %q]\nlogs:\n  max_size: 1MB\n  max_files: 1000\nmetrics:\n  address: off\n",
		port, self, strconv.Itoa(o.lines), strconv.Itoa(o.rate))
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	logDir := filepath.Join(dir, "logs")
	followed := filepath.Join(dir, "followed")
	out, err := os.Create(followed)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	follow := exec.Command(bin, "logs", strconv.Itoa(port), "-f", "-n", "0", "-c", config)
	follow.Stdout, follow.Stderr = out, os.Stderr
	fc, err := benchkit.StartChild(follow)
	if err != nil {
		return nil, err
	}
	defer fc.Stop(syscall.SIGTERM, 5*time.Second)

	up := exec.CommandContext(ctx, bin, "up", "-d", "-c", config)
	if msg, err := up.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("hellomgr up -d: %w\n%s", err, msg)
	}
	defer exec.Command(bin, "down", "-c", config).Run()
	began := time.Now()
	pidText, err := os.ReadFile(filepath.Join(dir, ".hellomgr", "hellomgr.pid"))
	if err != nil {
		return nil, err
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
	sampler, err := benchkit.Sample(pid, 200*time.Millisecond)
	if err != nil {
		return nil, err
	}
	limit := time.Duration(o.lines)*time.Millisecond + time.Minute
	if o.rate > 0 {
		limit += time.Duration(float64(o.lines*100)/float64(o.rate)) * time.Second
	}
	err = benchkit.WaitFor("the instance's last line in its log", limit, func() bool {
		last, _ := logs.Tail(logDir, port, 1)
		return len(last) == 1 && last[0] == "done"
	})
	r := &result{seconds: time.Since(began).Seconds()}
	usage, serr := sampler.Stop()
	if err != nil {
		return nil, err
	}
	if serr == nil {
		r.managerCPU, r.managerRSSMax = usage.CPUPercent, usage.RSSMaxBytes
	}
	if err := benchkit.WaitFor("logs -f to print the last line", 30*time.Second, func() bool {
		b, _ := os.ReadFile(followed)
		return strings.HasSuffix(string(b), "done\n")
	}); err != nil {
		return nil, err
	}
	fc.Stop(syscall.SIGTERM, 5*time.Second)

	old, err := logs.Backups(logDir, port)
	if err != nil {
		return nil, err
	}
	seen := make([]int, o.lines+1)
	for _, f := range append(old, logs.File(logDir, port)) {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		r.files++
		r.maxFileBytes = max(r.maxFileBytes, fi.Size())
		if err := count(f, seen); err != nil {
			return nil, err
		}
	}
	r.filesLost, r.filesRepeated = tally(seen)
	clear(seen)
	if err := count(followed, seen); err != nil {
		return nil, err
	}
	r.followLost, r.followRepeated = tally(seen)
	if b, err := os.ReadFile(filepath.Join(dir, ".hellomgr", "hellomgr.log")); err == nil && strings.Contains(string(b), "dropped") {
		r.dropped = "yes: see hellomgr.log"
	}
	return r, nil
}

// count adds each numbered line of the file at path to seen.
func count(path string, seen []int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rd := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := rd.ReadSlice('\n')
		if num, _, ok := strings.Cut(string(line), " "); ok {
			if n, err := strconv.Atoi(num); err == nil && n >= 1 && n < len(seen) {
				seen[n]++
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil && err != bufio.ErrBufferFull {
			return err
		}
	}
}

// tally returns how many numbers were never seen, and how many times one
// was seen again.
func tally(seen []int) (lost, repeated int) {
	for _, c := range seen[1:] {
		switch {
		case c == 0:
			lost++
		case c > 1:
			repeated += c - 1
		}
	}
	return lost, repeated
}

// report puts the figures and their targets in rep.
func (r *result) report(rep *benchkit.Report, o options) {
	rate := "as fast as it can"
	if o.rate > 0 {
		rate = fmt.Sprintf("%.1f MB/s", float64(o.rate)/(1<<20))
	}
	rep.Notes = append(rep.Notes, fmt.Sprintf("%d numbered lines of ~100 bytes at %s, logs.max_size 1MB, under `hellomgr up -d`, "+
		"`hellomgr logs PORT -f` running from before the start.", o.lines, rate))
	rep.Tables = append(rep.Tables, benchkit.Table{
		Columns: []string{"written in", "files", "largest file", "lost in files", "repeated in files", "lost by logs -f", "repeated by logs -f", "manager CPU", "manager RSS max"},
		Rows: [][]string{{fmt.Sprintf("%.1f s", r.seconds), strconv.FormatInt(r.files, 10), fmt.Sprintf("%.3f MiB", float64(r.maxFileBytes)/maxSize),
			strconv.Itoa(r.filesLost), strconv.Itoa(r.filesRepeated), strconv.Itoa(r.followLost), strconv.Itoa(r.followRepeated),
			fmt.Sprintf("%.1f%% of a core", r.managerCPU), fmt.Sprintf("%.1f MiB", float64(r.managerRSSMax)/(1<<20))}},
	})
	lost := r.filesLost + r.filesRepeated + r.followLost + r.followRepeated
	rep.Target(lost == 0, "%d of %d lines lost or repeated in the files and in logs -f, target 0", lost, o.lines)
	rep.Target(r.maxFileBytes <= maxSize+64<<10, "largest file %.3f MiB, target at most max_size (1 MiB) and one pipe's write", float64(r.maxFileBytes)/maxSize)
	if r.dropped != "" {
		rep.Notes = append(rep.Notes, "Dropped lines reported by the manager: "+r.dropped)
	}
}
