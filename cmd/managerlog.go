package cmd

import "github.com/hellomgr/hellomgr/logs"

// The background manager's own output, .hellomgr/hellomgr.log, is kept
// from growing without end by rotating it when `up -d` starts, while no
// manager writes to it: past managerLogMax bytes it becomes
// hellomgr.log.1, the one before becomes hellomgr.log.2, and so on; the
// oldest beyond managerLogKept is deleted.
const (
	managerLogMax  = 10 << 20
	managerLogKept = 3
)

// rotateManagerLog rotates the manager log at path if it is a regular
// file larger than managerLogMax (logs.RotateNumbered): best effort, it
// never stops a manager from starting.
func rotateManagerLog(path string) {
	logs.RotateNumbered(path, managerLogMax, managerLogKept)
}
