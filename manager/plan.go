package manager

import (
	"context"
	"errors"
	"slices"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
)

// ReloadPlan is what a reload of a config would do, as `hellomgr check`
// shows it.
type ReloadPlan struct {
	// PID is the manager running for the config; 0 when none runs, and
	// `hellomgr up` would start every port (all of them in Added).
	PID int
	Plan
	// Taken are the added ports that another program holds, one error
	// each: any of them stops the reload (or the up).
	Taken []error
}

// PlanReload asks the manager running for cfg which ports a reload of cfg
// would add, replace and remove, and checks that the added ones are free
// on cfg's address. It changes nothing. Its error is one in asking: a
// manager that is not running is a plan, not an error.
func PlanReload(ctx context.Context, cfg *config.Config) (ReloadPlan, error) {
	report, err := control.Dial(cfg.Socket).Status(ctx)
	if errors.Is(err, control.ErrNotRunning) {
		return ReloadPlan{Plan: Plan{Added: cfg.Ports}, Taken: takenPorts(cfg.Address, cfg.Ports)}, nil
	}
	if err != nil {
		return ReloadPlan{}, err
	}
	running := make([]int, 0, len(report.Instances))
	for _, in := range report.Instances {
		running = append(running, in.Port)
	}
	plan := PlanPorts(running, cfg.Ports)
	return ReloadPlan{PID: report.PID, Plan: plan, Taken: takenPorts(cfg.Address, plan.Added)}, nil
}

// takenPorts are the ports of ports that another program holds on host.
func takenPorts(host string, ports []int) []error {
	var taken []error
	for _, port := range ports {
		if err := CheckPortFree(host, port); err != nil {
			taken = append(taken, err)
		}
	}
	return taken
}

// Plan is what a reload will do, worked out before anything is touched.
type Plan struct {
	Added, Removed, Replaced []int
}

// PlanPorts says which ports a reload from running to wanted adds,
// removes and replaces.
func PlanPorts(running, wanted []int) Plan {
	var p Plan
	for _, port := range wanted {
		if slices.Contains(running, port) {
			p.Replaced = append(p.Replaced, port)
		} else {
			p.Added = append(p.Added, port)
		}
	}
	for _, port := range running {
		if !slices.Contains(wanted, port) {
			p.Removed = append(p.Removed, port)
		}
	}
	return p
}
