package cmd

import (
	"fmt"
	"syscall"
	"time"
)

// waitExit waits until process pid is gone. The manager is not our child,
// so there is no Wait to call; it exits only after every instance has.
func waitExit(pid int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("manager pid %d still running after %s", pid, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
