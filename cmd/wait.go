package cmd

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hellomgr/hellomgr/proc"
)

// waitExit waits until process pid is gone. The manager is not our child,
// so there is no Wait to call; it exits only after every instance has. An
// exited manager that its parent (often pid 1) has not reaped yet counts
// as gone: its ports are closed already.
func waitExit(pid int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if _, err := proc.ReadUsage(pid); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("manager pid %d still running after %s", pid, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
