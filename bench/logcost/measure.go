package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// loadRun is one wrk run through one side's nginx.
type loadRun struct {
	Side      string  `json:"side"`
	Round     int     `json:"round"`
	LoadAvg   string  `json:"loadavg"` // at its start
	Seconds   float64 `json:"seconds"`
	Served    int     `json:"served"`
	Failed    int     `json:"failed"`
	RPS       float64 `json:"served_per_s"`
	Lines     int     `json:"lines_logged"`
	LinesPerS float64 `json:"lines_per_s"`
	// The manager's, under hellomgr; -1 by hand.
	CPUPercent float64 `json:"manager_cpu_percent_of_a_core"`
	CPUSeconds float64 `json:"manager_cpu_s"`
	Switches   int     `json:"manager_voluntary_switches"`
}

// rounds loads each side in turn, o.rounds times, the order alternating.
func rounds(ctx context.Context, o options, sides [2]*side) ([]loadRun, error) {
	var runs []loadRun
	for round := 1; round <= o.rounds; round++ {
		order := sides[:]
		if round%2 == 0 {
			order = []*side{sides[1], sides[0]}
		}
		for _, s := range order {
			run, err := loadOnce(ctx, o, s, round)
			if err != nil {
				return nil, fmt.Errorf("%s, round %d: %w", s.name, round, err)
			}
			fmt.Fprintf(os.Stderr, "bench/logcost: round %d, %s: %.0f req/s, %d failed, %.0f lines/s, manager CPU %.2f%%, load %s\n",
				round, s.name, run.RPS, run.Failed, run.LinesPerS, run.CPUPercent, run.LoadAvg)
			runs = append(runs, run)
		}
	}
	return runs, nil
}

// loadOnce runs wrk through s's nginx while sampling its manager.
func loadOnce(ctx context.Context, o options, s *side, round int) (loadRun, error) {
	run := loadRun{Side: s.name, Round: round, LoadAvg: benchkit.LoadAverage(), CPUPercent: -1, Switches: -1}
	m, managed := s.manager()
	var sampler *benchkit.Sampler
	var sw0 int
	if managed {
		var err error
		if sampler, err = benchkit.Sample(m.PID, time.Second); err != nil {
			return run, err
		}
		sw0 = switches(m.PID)
	}
	lines0 := s.lines()
	st, err := benchkit.RunWrk(ctx, benchkit.WrkConfig{URL: s.ngx.URL(), KeepAlive: true, Duration: o.load,
		Threads: 2, Connections: o.connections})
	if managed {
		run.Switches = switches(m.PID) - sw0
		u, serr := sampler.Stop()
		if err == nil {
			err = serr
		}
		run.CPUPercent, run.CPUSeconds = u.CPUPercent, u.CPUSeconds
	}
	if err != nil {
		return run, err
	}
	time.Sleep(200 * time.Millisecond) // the last batch of lines reaches the files
	run.Lines = s.lines() - lines0
	run.Seconds = st.Seconds
	run.Failed = st.Errors.Sum() + st.Errors.Status
	run.Served = st.Responses - st.Errors.Status
	run.RPS = float64(run.Served) / st.Seconds
	run.LinesPerS = float64(run.Lines) / st.Seconds
	return run, nil
}

// switches sums the voluntary context switches of pid's threads: each
// time one of them was woken, it ends in one.
func switches(pid int) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	sum := 0
	for _, path := range tasks {
		b, _ := os.ReadFile(path)
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				sum += n
			}
		}
	}
	return sum
}

var markLine = regexp.MustCompile(`mark=(\d+)`)

// followLatency times, o.marks times quiet and o.marks times under load
// through nginx, how long after the answer to a marked request to one of
// s's ports `hellomgr logs PORT -f` printed its line (Tornado writes the
// line as it finishes the answer: the time from write to display).
func followLatency(ctx context.Context, o options, s *side) (quiet, loaded []time.Duration, err error) {
	cmd := exec.Command(s.bin, "logs", strconv.Itoa(s.ports[0]), "-f", "-n", "0", "-c", s.path("config.yaml"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	follow, err := benchkit.StartChild(cmd)
	if err != nil {
		return nil, nil, err
	}
	defer follow.Stop(syscall.SIGTERM, time.Second)
	seen := make(chan int, 64)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := markLine.FindStringSubmatch(sc.Text()); m != nil {
				n, _ := strconv.Atoi(m[1])
				seen <- n
			}
		}
	}()
	time.Sleep(500 * time.Millisecond) // logs -f has opened the file
	if quiet, err = marks(ctx, s.ports[0], 0, o.marks, seen); err != nil {
		return nil, nil, fmt.Errorf("quiet: %w", err)
	}
	w, err := benchkit.StartWrk(ctx, benchkit.WrkConfig{URL: s.ngx.URL(), KeepAlive: true, Threads: 2,
		Connections: o.connections, Duration: time.Minute})
	if err != nil {
		return nil, nil, err
	}
	time.Sleep(time.Second)
	loaded, err = marks(ctx, s.ports[0], o.marks, o.marks, seen)
	w.Interrupt()
	if _, werr := w.Wait(); err == nil && werr != nil {
		err = werr
	}
	return quiet, loaded, err
}

// marks sends n requests marked from..from+n-1 to port, 50-250 ms
// apart, and returns how long after each answer its line came out of
// logs -f.
func marks(ctx context.Context, port, from, n int, seen <-chan int) ([]time.Duration, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	var lat []time.Duration
	for i := from; i < from+n; i++ {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/?mark=%d", port, i))
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		written := time.Now() // Tornado logs a request as it finishes its answer
		if err := awaitMark(ctx, seen, i); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(written))
		time.Sleep(time.Duration(50+(i*37)%200) * time.Millisecond)
	}
	slices.Sort(lat)
	return lat, nil
}

// awaitMark waits, at most 5 s, for logs -f to print mark i.
func awaitMark(ctx context.Context, seen <-chan int, i int) error {
	limit := time.After(5 * time.Second)
	for {
		select {
		case n := <-seen:
			if n == i {
				return nil
			}
		case <-limit:
			return fmt.Errorf("logs -f did not show mark=%d within 5 s", i)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
