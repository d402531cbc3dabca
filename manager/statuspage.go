package manager

import "github.com/hellomgr/hellomgr/statuspage"

// RolloutCounts implements statuspage.Source: the rollouts counted so
// far, as the metrics count them. Read-only.
func (m *Manager) RolloutCounts() statuspage.Rollouts {
	m.rollouts.mu.Lock()
	defer m.rollouts.mu.Unlock()
	r := m.rollouts.r
	return statuspage.Rollouts{Started: r.Started, Succeeded: r.Succeeded, Failed: r.Failed, LastDuration: r.LastDuration}
}
