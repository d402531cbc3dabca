package statuspage

import "github.com/hellomgr/hellomgr/control"

// view is the JSON the page polls (GET /status.json).
type view struct {
	Time     int64        `json:"time"` // Unix milliseconds
	Manager  managerView  `json:"manager"`
	Ports    []portView   `json:"ports"`
	Rollouts rolloutsView `json:"rollouts"`
}

type managerView struct {
	PID      int    `json:"pid"`
	Version  string `json:"version,omitempty"`
	Upgrades int    `json:"upgrades"`
}

// portView is one port: the whitelist of control.InstanceStatus the page
// may show (no last error: it can quote the app's output).
type portView struct {
	Port     int     `json:"port"`
	PID      int     `json:"pid"`
	State    string  `json:"state"`
	Uptime   float64 `json:"uptime_seconds"`
	Restarts uint64  `json:"restarts"`
	Reloads  uint64  `json:"reloads"`
	RSS      int64   `json:"rss_bytes"`
	CPU      float64 `json:"cpu_seconds"` // total; the page derives the rate

	// PER-PORT REQUEST METRICS: when the status report carries them (the
	// issue "every instance monitored"), copy them here in newPortView.
	// The page shows both columns as soon as any port has them
	// (page.js, requestFigures); until then they are left out.
	RequestsPerSecond *float64 `json:"requests_per_second,omitempty"`
	Share5xx          *float64 `json:"share_5xx,omitempty"` // 0 to 1
}

func newPortView(in control.InstanceStatus) portView {
	return portView{
		Port: in.Port, PID: in.PID, State: in.State, Uptime: in.Uptime,
		Restarts: in.Restarts, Reloads: in.Reloads, RSS: in.RSS, CPU: in.CPU,
	}
}
