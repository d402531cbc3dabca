package metrics

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hellomgr/hellomgr/proc"
)

// One instance's series, served at /probe?port=N. They carry no port label:
// the target's instance label already names the port. Each is a name and a
// help text, so that the hand-written exposition of /probe and the tests'
// collector (collectors_test.go) say the same.
var (
	// Not "up": Prometheus makes its own up series for every scrape, which
	// for a probe says that the manager answered, not that the instance did.
	upSeries = series{"hellomgr_instance_up",
		"1 when the instance is ready and its process runs, else 0."}
	stateSeries = series{"hellomgr_instance_state",
		"1 for the instance's current state, 0 for the others."}
	restartsSeries = series{"hellomgr_instance_restarts_total",
		"Restarts of the instance, by reason."}
	exitCodeSeries = series{"hellomgr_instance_last_exit_code",
		"Exit code of the instance's last process; -1 when a signal killed it or none has exited."}
	infoSeries = series{"hellomgr_instance_info",
		"Always 1; labels describe the instance."}
	startSeries = series{"hellomgr_instance_start_time_seconds",
		"When hellomgr started the current process, in seconds since the epoch."}
	logDroppedSeries = series{"hellomgr_log_dropped_lines_total",
		"Lines of the instance's output lost: a full disk, a removed log folder, a journal that refused them."}
)

// The instance's process, read from /proc. These keep the names of
// client_golang's process collector, not hellomgr_instance_process_*: a
// probe is its own target, so its series never meet the app's own process_*
// series (those are scraped by another job, under the same instance label
// but another job label), and queries and dashboards written for process_*
// then work for every instance, including commands that export no metrics of
// their own.
var (
	cpuSeries = series{"process_cpu_seconds_total",
		"Total user and system CPU time spent in seconds."}
	rssSeries = series{"process_resident_memory_bytes",
		"Resident memory size in bytes."}
	fdsSeries = series{"process_open_fds",
		"Number of open file descriptors."}
	threadsSeries = series{"process_threads",
		"Number of OS threads in the process."}
	procStartSeries = series{"process_start_time_seconds",
		"Start time of the process since unix epoch in seconds."}
)

// series names a metric family and says what it means.
type series struct{ name, help string }

// readFunc reads a process's stats; proc.Read, or a fake in tests.
type readFunc func(pid int) (proc.Stats, error)

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// seconds is t as Prometheus writes times: seconds since the epoch.
func seconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

// labelValue makes s a label value that the registry accepts and that does
// not vanish: Prometheus drops a label whose value is "".
func labelValue(s string) string {
	if s == "" {
		return "unknown"
	}
	if !utf8.ValidString(s) {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}
