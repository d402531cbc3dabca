package cmd

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/control"
)

// Connections held open on the metrics address, idle or with half a
// request sent, must never take the file descriptors the control socket
// needs: with 400 of them against a manager limited to 200 open files,
// `status` answers, the manager never runs out of descriptors, and
// /metrics answers again once they are gone.
func TestHeldMetricsConnectionsLeaveTheControlSocketAlone(t *testing.T) {
	const fdLimit, held = 200, 400
	e := newEnv(t, 2, "")
	up := exec.Command("sh", "-c", `ulimit -n "$0" && exec "$@"`, strconv.Itoa(fdLimit), os.Args[0], "up", "-d", "-c", e.configPath())
	up.Env = append(os.Environ(), asMain+"=1")
	up.Dir = e.dir
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("up -d under ulimit -n %d: %v\n%s", fdLimit, err, out)
	}
	pid := e.managerPID()
	if got := openFileLimit(t, pid); got != fdLimit {
		t.Fatalf("manager pid %d: open-file limit %d, want %d", pid, got, fdLimit)
	}
	report, err := control.Dial(e.socket()).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	addr := report.MetricsAddr
	t.Logf("status with no connection held: %s", e.timeStatus())

	conns := make([]net.Conn, 0, held)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range held {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d to the metrics address %s: %v", i, addr, err)
		}
		conns = append(conns, c)
		if i%2 == 0 {
			c.Write([]byte("GET /metrics HTTP/1.1\r\nHost: hellomgr\r\n")) // and never the blank line
		}
	}
	t.Logf("status with %d connections just opened: %s", held, e.timeStatus())
	// Until the manager has taken every connection off its accept queue,
	// its count of open files is watched: it must keep room to spare.
	most := 0
	deadline := time.Now().Add(30 * time.Second)
	for acceptQueue(t, addr) > 0 {
		most = max(most, openFiles(pid))
		if time.Now().After(deadline) {
			t.Fatalf("the manager left %d connections in its accept queue for 30s (%d files open, limit %d)", acceptQueue(t, addr), openFiles(pid), fdLimit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	most = max(most, openFiles(pid))
	if most > fdLimit-50 {
		t.Errorf("manager pid %d had %d files open with %d connections held, want at most %d of its %d", pid, most, held, fdLimit-50, fdLimit)
	}
	t.Logf("manager: at most %d of %d files open; %d of %d connections closed by the manager at once", most, fdLimit, closedByPeer(conns), held)
	t.Logf("status with %d connections held or refused: %s", held, e.timeStatus())

	for _, c := range conns {
		c.Close()
	}
	var last string
	deadline = time.Now().Add(10 * time.Second)
	for !metricsAnswer(addr, &last) {
		if time.Now().After(deadline) {
			t.Fatalf("GET http://%s/metrics after the held connections closed: %s", addr, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
	logText, _ := os.ReadFile(filepath.Join(e.dir, ".hellomgr", "hellomgr.log"))
	if strings.Contains(string(logText), "too many open files") {
		t.Errorf("the manager ran out of file descriptors; its log:\n%s", logText)
	}
}

// timeStatus runs `hellomgr status`, checks that it lists every port of the
// env as ready, and returns how long it took.
func (e *env) timeStatus() time.Duration {
	e.t.Helper()
	start := time.Now()
	out, errOut, code := e.run("status")
	took := time.Since(start)
	if code != 0 {
		e.t.Fatalf("status: exit %d after %s\n%s%s", code, took, out, errOut)
	}
	for _, port := range e.ports {
		if !strings.Contains(out, strconv.Itoa(port)) || strings.Count(out, " ready ") != len(e.ports) {
			e.t.Fatalf("status after %s: want port %d and every port ready, got\n%s", took, port, out)
		}
	}
	return took
}

// metricsAnswer GETs /metrics once: true on a 200 with the manager's own
// series, else false, with why in last.
func metricsAnswer(addr string, last *string) bool {
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		*last = err.Error()
		return false
	}
	defer resp.Body.Close()
	body := new(strings.Builder)
	bufio.NewReader(resp.Body).WriteTo(body)
	*last = fmt.Sprintf("%s, %d bytes", resp.Status, body.Len())
	return resp.StatusCode == http.StatusOK && strings.Contains(body.String(), "hellomgr_instances")
}

// openFileLimit reads the soft open-file limit of process pid.
func openFileLimit(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	t.Fatalf("no open-file limit in /proc/%d/limits", pid)
	return 0
}

// openFiles counts the open file descriptors of process pid.
func openFiles(pid int) int {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(fds)
}

// acceptQueue returns how many connections wait in the accept queue of the
// listening TCP socket on addr (a LISTEN socket's rx_queue in /proc/net/tcp).
func acceptQueue(t *testing.T, addr string) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	suffix := fmt.Sprintf(":%04X", p)
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 5 || !strings.HasSuffix(f[1], suffix) || f[3] != "0A" {
				continue
			}
			_, rx, _ := strings.Cut(f[4], ":")
			n, _ := strconv.ParseInt(rx, 16, 64)
			return int(n)
		}
	}
	t.Fatalf("no listening socket on %s in /proc/net/tcp", addr)
	return 0
}

// closedByPeer counts the connections the other end has closed.
func closedByPeer(conns []net.Conn) int {
	var n int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); err != nil && !os.IsTimeout(err) {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return n
}
