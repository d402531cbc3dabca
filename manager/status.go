package manager

import (
	"os"
	"time"

	"github.com/hellomgr/hellomgr/proc"
)

// Report is what `hellomgr status` shows: the manager and every instance.
type Report struct {
	PID         int              `json:"pid"`
	Config      string           `json:"config"`
	MetricsAddr string           `json:"metrics_address,omitempty"`
	Instances   []InstanceStatus `json:"instances"`
}

// Report returns the current status of the manager and its instances,
// with each process's memory and CPU read from /proc.
func (m *Manager) Report() Report {
	m.mu.Lock()
	reloads := make(map[int]uint64, len(m.slots))
	for port, s := range m.slots {
		reloads[port] = s.reloads
	}
	file := m.cfg.File
	m.mu.Unlock()
	r := Report{PID: os.Getpid(), Config: file, MetricsAddr: m.MetricsAddr()}
	now := time.Now()
	for _, st := range m.Instances() {
		row := InstanceStatus{
			Port: st.Port, PID: st.PID, State: st.State.String(),
			Restarts: st.RestartCount(), ByReason: st.Restarts,
			LastError: st.LastError, LastExit: st.LastExitCode,
			Reloads: reloads[st.Port],
		}
		if st.PID != 0 {
			row.StartTime = st.StartTime
			row.Uptime = now.Sub(st.StartTime).Seconds()
			if ps, err := proc.ReadUsage(st.PID); err == nil {
				row.RSS, row.CPU = ps.RSSBytes, ps.CPUSeconds
			}
		}
		r.Instances = append(r.Instances, row)
	}
	return r
}
