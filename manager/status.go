package manager

import (
	"cmp"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/metrics"
	"github.com/hellomgr/hellomgr/proc"
)

// Report returns the current status of the manager and its instances,
// with each process's memory and CPU read from /proc through the reading
// shared with the metrics endpoint (proc.UsageCached: at most one read per
// process and per second, whoever asks).
func (m *Manager) Report() control.Report {
	r := control.Report{PID: os.Getpid(), Version: m.opts.Version, Upgrades: m.upgrades, UpgradeErr: m.upgradeErr}
	m.ports.do(func(t *portTable) {
		r.Config = t.cfg.File
		r.Instances = t.rows()
	})
	r.MetricsAddr = m.MetricsAddr()
	readUsage(r.Instances, time.Now())
	return r
}

// rows is the status row of every slot, sorted by port, but for what
// readUsage adds.
func (t *portTable) rows() []control.InstanceStatus {
	rows := make([]control.InstanceStatus, 0, len(t.slots))
	for _, s := range t.slots {
		if s.inst == nil {
			continue
		}
		st := s.inst.Status()
		row := control.InstanceStatus{
			Port: st.Port, PID: st.PID, State: st.State.String(),
			Restarts: st.RestartCount(), ByReason: st.Restarts,
			LastError: st.LastError, LastExit: st.LastExitCode,
			Reloads: s.reloads,
		}
		if st.PID != 0 {
			row.StartTime = st.StartTime
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b control.InstanceStatus) int { return cmp.Compare(a.Port, b.Port) })
	return rows
}

// rowsPerReader is how many rows one goroutine of readUsage reads at
// least: below that, a goroutine more costs more than it saves.
const rowsPerReader = 32

// readUsage fills in the uptime, memory and CPU of each row with a
// process. Reading /proc is CPU work in the kernel (some 15 µs a
// process), so the rows are shared out among up to one goroutine per CPU
// the manager may use: a status after the shared readings expired waits
// for the slowest share, not for the sum.
func readUsage(rows []control.InstanceStatus, now time.Time) {
	readers := min(runtime.GOMAXPROCS(0), (len(rows)+rowsPerReader-1)/rowsPerReader)
	if readers <= 1 {
		readRows(rows, now, 0, 1)
		return
	}
	var wg sync.WaitGroup
	for r := range readers {
		wg.Go(func() { readRows(rows, now, r, readers) })
	}
	wg.Wait()
}

// readRows reads every step-th row from first.
func readRows(rows []control.InstanceStatus, now time.Time, first, step int) {
	for i := first; i < len(rows); i += step {
		row := &rows[i]
		if row.PID == 0 {
			continue
		}
		row.Uptime = now.Sub(row.StartTime).Seconds()
		if ps, err := proc.UsageCached(row.PID); err == nil {
			row.RSS, row.CPU = ps.RSSBytes, ps.CPUSeconds
		}
	}
}

// Instances returns a status snapshot of every slot, sorted by port.
func (m *Manager) Instances() []instance.Status {
	var out []instance.Status
	m.ports.do(func(t *portTable) { out = t.statuses() })
	return out
}

// statuses is a status snapshot of every slot, sorted by port.
func (t *portTable) statuses() []instance.Status {
	out := make([]instance.Status, 0, len(t.slots))
	for _, s := range t.slots {
		if s.inst != nil {
			out = append(out, s.inst.Status())
		}
	}
	slices.SortFunc(out, func(a, b instance.Status) int { return cmp.Compare(a.Port, b.Port) })
	return out
}

// SnapshotPort implements metrics.PortSource: the instance on port, as
// Snapshot gives it, without copying every other instance.
func (m *Manager) SnapshotPort(port int) (metrics.Instance, bool) {
	var i *instance.Instance
	var s *slot
	var cfg *config.Config
	m.ports.do(func(t *portTable) {
		if s, cfg = t.slots[port], t.cfg; s != nil {
			i = s.inst
		}
	})
	if i == nil {
		return metrics.Instance{}, false
	}
	return metricsInstance(i.Status(), commandLabel(cfg), s.log.Dropped()), true
}

// commandLabel is the command label of the metrics: "builtin" or the
// base name of the configured executable.
func commandLabel(cfg *config.Config) string {
	if cfg.BuiltIn() {
		return "builtin"
	}
	return filepath.Base(cfg.Command[0])
}

// metricsInstance is what the metrics say of one instance.
func metricsInstance(st instance.Status, command string, logDropped uint64) metrics.Instance {
	return metrics.Instance{
		Port: st.Port, PID: st.PID, State: st.State.String(), StartTime: st.StartTime,
		Restarts: st.Restarts, LastExitCode: st.LastExitCode, Command: command,
		LogDropped: logDropped,
	}
}

// CountStates implements metrics.CountSource: the state of every
// instance, as Snapshot gives it, and the rollouts, without copying any
// instance.
func (m *Manager) CountStates(c *metrics.StateCounts) metrics.Rollouts {
	m.ports.do(func(t *portTable) {
		for _, s := range t.slots {
			if s.inst != nil {
				c.Add(s.inst.State().String())
			}
		}
	})
	m.rollouts.mu.Lock()
	defer m.rollouts.mu.Unlock()
	return m.rollouts.r
}
