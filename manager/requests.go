package manager

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellomgr/hellomgr/reqlog"
)

// requestLog is what nginx tells the manager of every request it passes
// to an instance: `hellomgr nginx` prints an access_log line that sends
// it, as syslog datagrams, to reqlog.SocketPath of the config. The zero
// value is ready: counts are made on first use, so that a manager that
// never serves (tests) still has empty ones.
type requestLog struct {
	once sync.Once
	c    *reqlog.Counts
}

func (l *requestLog) counts() *reqlog.Counts {
	l.once.Do(func() { l.c = reqlog.NewCounts() })
	return l.c
}

// serveRequests listens on the request log socket and counts what nginx
// sends until ctx ends. A socket that cannot be bound is logged, not
// fatal: the manager runs on without request metrics, and says so.
func (m *Manager) serveRequests(ctx context.Context) {
	path := reqlog.SocketPath(m.Config().StateDir)
	l, err := reqlog.Listen(path)
	if err != nil {
		m.log.Warn("no request metrics from nginx", "err", err)
		return
	}
	m.log.Debug("request log socket", "path", l.Path())
	if n := reqlog.QueueLimit(); n > 0 && n < 512 {
		m.log.Warn("nginx's request lines may be lost above a few thousand requests/s (counted in hellomgr_request_log_lost_total)",
			"net.unix.max_dgram_qlen", n, "fix", "sysctl -w net.unix.max_dgram_qlen=512 (systemd's default), then restart hellomgr")
	}
	l.OnBad = func(dgram []byte, err error, since uint64) {
		m.log.Warn("unreadable line from nginx on the request log socket (counted in hellomgr_request_log_datagrams_total{result=\"unparsable\"}); print `hellomgr nginx` again into nginx's config",
			"err", err, "datagram", string(dgram), "unreadable since the last warning", since)
	}
	if err := l.Serve(ctx, m.reqs.counts()); err != nil {
		m.log.Error("request metrics from nginx stopped", "err", err)
	}
}

// RequestCollector implements metrics.RequestSource: the series of the
// requests nginx passed to port.
func (m *Manager) RequestCollector(port int) prometheus.Collector {
	return m.reqs.counts().PortCollector(port)
}

// RequestLogCollector implements metrics.RequestSource.
func (m *Manager) RequestLogCollector() prometheus.Collector {
	return m.reqs.counts().LogCollector()
}

// appCount is what an app's own /metrics says of its answers so far: the
// Prometheus client libraries' http_requests_total (with a code label)
// and http_request_duration_seconds, as the built-in server serves them.
type appCount struct {
	total, errors float64
	seconds, n    float64 // http_request_duration_seconds' _sum and _count
	ok            bool    // the app exposes http_requests_total with a code label
}

func (c appCount) share() float64 {
	if c.total <= 0 {
		return 0
	}
	return c.errors / c.total
}

// mean is the mean response time, 0 when the app times none.
func (c appCount) mean() float64 {
	if c.n <= 0 {
		return 0
	}
	return c.seconds / c.n
}

// since is what c counted after then, a reading of the same process; a
// new process counts from 0 again, and an app makes its series on its
// first answer, so a reading without then counts from 0.
func (c appCount) since(then appCount) appCount {
	if !then.ok || c.total < then.total {
		then = appCount{}
	}
	return appCount{total: c.total - then.total, errors: c.errors - then.errors,
		seconds: c.seconds - then.seconds, n: c.n - then.n, ok: c.ok}
}

var metricsClient = &http.Client{Timeout: time.Second}

// readAppCount reads the app's own /metrics on port. err is set when the
// port did not answer (refused, timed out) or answered 5xx; an answer
// without the series is a reading with ok false.
func readAppCount(port int) (appCount, error) {
	resp, err := metricsClient.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		return appCount{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 {
		return appCount{}, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	var c appCount
	if resp.StatusCode != http.StatusOK {
		return c, nil
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		c.addLine(sc.Text())
	}
	return c, nil
}

// addLine adds one exposition line to c, if it is one of its series.
func (c *appCount) addLine(line string) {
	name, rest, _ := strings.Cut(line, " ")
	labels := ""
	if i := strings.IndexByte(name, '{'); i >= 0 {
		name, rest = line[:i], line[i+1:]
		var ok bool
		if labels, rest, ok = strings.Cut(rest, "} "); !ok {
			return
		}
	}
	v, err := strconv.ParseFloat(strings.Fields(rest + " ")[0], 64)
	if err != nil {
		return
	}
	switch name {
	case "http_requests_total":
		code, found := labelValue(labels, "code")
		if !found {
			return
		}
		c.ok = true
		c.total += v
		if strings.HasPrefix(code, "5") {
			c.errors += v
		}
	case "http_request_duration_seconds_sum":
		c.seconds += v
	case "http_request_duration_seconds_count":
		c.n += v
	}
}

// labelValue finds name="value" in a Prometheus label list.
func labelValue(labels, name string) (string, bool) {
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.TrimSpace(k) == name {
			return strings.Trim(v, `"`), true
		}
	}
	return "", false
}

// pulse asks the app on port for path once, directly (not through nginx):
// whether it still answers, and with what status.
func pulse(port int, path string) (int, error) {
	resp, err := metricsClient.Get("http://127.0.0.1:" + strconv.Itoa(port) + path)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// stoppedProcess reports whether pid is stopped (SIGSTOP, a debugger):
// state T or t in /proc/PID/stat. Such a process accepts connections (the
// kernel queues them) and answers nothing.
func stoppedProcess(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't')
}
