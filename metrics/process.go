package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

// selfCollector reports the manager's own process under the names and
// help texts of client_golang's process collector, from one reading of
// /proc/self/stat and the size of /proc/self/fd (proc.Read). That
// collector read /proc/self/stat, /proc/stat (for the boot time, at every
// scrape), /proc/self/limits and /proc/self/net/netstat, and listed
// /proc/self/fd, whose entries a manager of 1,024 instances counts in
// thousands: most of a scrape's CPU. The limits come from getrlimit(2).
// process_network_*_bytes_total are not served: /proc/self/net/netstat
// counts the bytes of the whole network namespace, not of this process.
type selfCollector struct {
	read readFunc
}

var (
	maxFDsSeries = series{"process_max_fds", "Maximum number of open file descriptors."}
	vmSeries     = series{"process_virtual_memory_bytes", "Virtual memory size in bytes."}
	maxVMSeries  = series{"process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes."}
)

var (
	selfCPUDesc      = cpuSeries.desc()
	selfFDsDesc      = fdsSeries.desc()
	selfMaxFDsDesc   = maxFDsSeries.desc()
	selfVMDesc       = vmSeries.desc()
	selfMaxVMDesc    = maxVMSeries.desc()
	selfRSSDesc      = rssSeries.desc()
	selfStartDesc    = procStartSeries.desc()
	selfDescriptions = []*prometheus.Desc{selfCPUDesc, selfFDsDesc, selfMaxFDsDesc, selfVMDesc, selfMaxVMDesc, selfRSSDesc, selfStartDesc}
)

func (selfCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range selfDescriptions {
		ch <- d
	}
}

func (c selfCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.read(os.Getpid())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(selfCPUDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(selfCPUDesc, prometheus.CounterValue, st.CPUSeconds)
	gauge(ch, selfFDsDesc, float64(st.OpenFDs))
	gauge(ch, selfVMDesc, float64(st.VMBytes))
	gauge(ch, selfRSSDesc, float64(st.RSSBytes))
	gauge(ch, selfStartDesc, seconds(st.StartTime))
	for _, l := range []struct {
		d        *prometheus.Desc
		resource int
	}{{selfMaxFDsDesc, syscall.RLIMIT_NOFILE}, {selfMaxVMDesc, syscall.RLIMIT_AS}} {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(l.resource, &lim); err != nil {
			slog.Error("getrlimit: "+err.Error(), "component", "metrics")
			continue
		}
		gauge(ch, l.d, float64(lim.Cur))
	}
}

// writeSelf writes the manager's own process_* series, as promhttp writes
// selfCollector's: by name. When the process cannot be read it writes
// none, and returns why.
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
