package benchkit

import (
	"fmt"
	"sync"
	"time"

	"github.com/hellomgr/hellomgr/proc"
)

// Usage is what one process used over a window of time.
type Usage struct {
	Seconds    float64 `json:"seconds"`     // the window's wall time
	CPUSeconds float64 `json:"cpu_seconds"` // user + system, from /proc/PID/stat (10 ms ticks)
	// CPUPercent is CPU time over wall time, in percent of one core.
	CPUPercent   float64 `json:"cpu_percent_of_a_core"`
	RSSMeanBytes int64   `json:"rss_mean_bytes"`
	RSSMaxBytes  int64   `json:"rss_max_bytes"`
	Samples      int     `json:"rss_samples"`
}

// Sampler reads one process's CPU time and resident memory at its start,
// at every tick and at its end.
type Sampler struct {
	pid   int
	begin time.Time
	start time.Time // the process's, to tell it from another with its pid
	cpu0  float64
	stop  chan struct{}
	done  chan struct{}

	mu   sync.Mutex
	rss  []int64
	fail error
}

// Sample starts sampling the process pid every interval; Stop ends it.
// It fails when the process cannot be read now.
func Sample(pid int, every time.Duration) (*Sampler, error) {
	st, err := proc.Read(pid)
	if err != nil {
		return nil, fmt.Errorf("sample process %d: %w", pid, err)
	}
	s := &Sampler{pid: pid, begin: time.Now(), start: st.StartTime, cpu0: st.CPUSeconds, rss: []int64{st.RSSBytes},
		stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop(every)
	return s, nil
}

func (s *Sampler) loop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.read()
		}
	}
}

// read records one RSS sample, or the first failure.
func (s *Sampler) read() (proc.Stats, error) {
	st, err := proc.Read(s.pid)
	if err == nil && !st.StartTime.Equal(s.start) {
		err = fmt.Errorf("pid reused by a process started at %s", st.StartTime.Format(time.TimeOnly))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.fail == nil {
			s.fail = fmt.Errorf("sample process %d: %w", s.pid, err)
		}
		return st, err
	}
	s.rss = append(s.rss, st.RSSBytes)
	return st, nil
}

// Stop takes the last sample and returns the usage over the window. It
// fails when the process went away during the window: its figures would
// be those of a process that restarted, or none. Call it once.
func (s *Sampler) Stop() (Usage, error) {
	close(s.stop)
	<-s.done
	st, _ := s.read()
	wall := time.Since(s.begin).Seconds()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return Usage{}, s.fail
	}
	u := Usage{Seconds: wall, CPUSeconds: st.CPUSeconds - s.cpu0, Samples: len(s.rss)}
	u.CPUPercent = 100 * u.CPUSeconds / wall
	var sum int64
	for _, r := range s.rss {
		sum += r
		u.RSSMaxBytes = max(u.RSSMaxBytes, r)
	}
	u.RSSMeanBytes = sum / int64(len(s.rss))
	return u, nil
}
