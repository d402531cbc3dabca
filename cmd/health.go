package cmd

import (
	"fmt"
	"io"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/instance"
)

// printHealth says, after the swap lines of check, how the instances are
// looked after once ready: the liveness probe, and how the memory limit is
// kept on this machine (by the kernel in each instance's cgroup, or by
// sampling), each only when the config sets it.
func printHealth(out io.Writer, cfg *config.Config) {
	if cfg.Liveness.On() {
		fmt.Fprintf(out, "liveness: %s, as by hellomgr restart\n", cfg.Liveness.Describe())
	}
	if limit := cfg.Limits.MemoryBytes; limit > 0 {
		_, how := instance.MemoryEnforcement(cfg.StateDir)
		fmt.Fprintf(out, "memory limit: %s per instance, %s\n", memoryText(limit), how)
	}
}

// memoryText writes a size in the largest binary unit that divides it.
func memoryText(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
