package metrics

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

var (
	maxFDsSeries = series{"process_max_fds", "Maximum number of open file descriptors."}
	vmSeries     = series{"process_virtual_memory_bytes", "Virtual memory size in bytes."}
	maxVMSeries  = series{"process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes."}
)

// writeSelf writes the manager's own process_* series under the names and
// help texts of client_golang's process collector, as promhttp writes
// them (by name; selfCollector in the tests), from one reading of
// /proc/self/stat and the size of /proc/self/fd (read). That collector
// read /proc/self/stat, /proc/stat (for the boot time, at every scrape),
// /proc/self/limits and /proc/self/net/netstat, and listed /proc/self/fd,
// whose entries a manager of 1,024 instances counts in thousands: most of
// a scrape's CPU. The limits come from getrlimit(2).
// process_network_*_bytes_total are not served: /proc/self/net/netstat
// counts the bytes of the whole network namespace, not of this process.
// When the process cannot be read it writes none, and returns why.
func writeSelf(e *exposition, read readFunc) error {
	st, err := read(os.Getpid())
	if err != nil {
		return fmt.Errorf("read the manager's process: %w", err)
	}
	maxFDs, errFDs := getrlimit(syscall.RLIMIT_NOFILE)
	maxVM, errVM := getrlimit(syscall.RLIMIT_AS)
	e.one(cpuSeries.name, cpuSeries.help, "counter", st.CPUSeconds)
	if errFDs == nil {
		e.one(maxFDsSeries.name, maxFDsSeries.help, "gauge", maxFDs)
	}
	e.one(fdsSeries.name, fdsSeries.help, "gauge", float64(st.OpenFDs))
	e.one(rssSeries.name, rssSeries.help, "gauge", float64(st.RSSBytes))
	e.one(procStartSeries.name, procStartSeries.help, "gauge", seconds(st.StartTime))
	e.one(vmSeries.name, vmSeries.help, "gauge", float64(st.VMBytes))
	if errVM == nil {
		e.one(maxVMSeries.name, maxVMSeries.help, "gauge", maxVM)
	}
	return errors.Join(errFDs, errVM)
}

// getrlimit returns the soft limit of a resource.
func getrlimit(resource int) (float64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(resource, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	return float64(lim.Cur), nil
}
