package benchkit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/proc"
)

func TestParseWrkReadsWhatTheScriptPrints(t *testing.T) {
	out := `Running 1s test @ http://127.0.0.1:1/
  2 threads and 4 connections
summary 120 1 2 3 4 1500 9000 5 800 700
duration 1002000
status 200 100
status 502 10
status 200 10
bucket 178000000000 60
bucket 178000000001 50
`
	s, err := ParseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	want := WrkStats{Responses: 120, Errors: SocketErrors{1, 2, 3, 4, 5}, Seconds: 1.002, P99Ms: 1.5, MaxMs: 9, MeanMs: 0.8, P50Ms: 0.7}
	if s.Responses != want.Responses || s.Errors != want.Errors || s.Seconds != want.Seconds || s.P99Ms != want.P99Ms || s.MaxMs != want.MaxMs || s.MeanMs != want.MeanMs || s.P50Ms != want.P50Ms {
		t.Errorf("got %+v, want %+v", s, want)
	}
	if s.Statuses[200] != 110 || s.Statuses[502] != 10 {
		t.Errorf("statuses: got %v, want 200:110 502:10", s.Statuses)
	}
	if first, last, _ := s.Span(); first != 178000000000 || last != 178000000001 {
		t.Errorf("span: got %d..%d", first, last)
	}
	if r := Rate(s.Buckets, 178000000000, 178000000001); r != 5500 {
		t.Errorf("rate: got %v/s, want 5500/s (110 in 20 ms)", r)
	}
	if !strings.Contains(s.Output, "2 threads") {
		t.Errorf("wrk's own report lost: %q", s.Output)
	}
	if _, err := ParseWrk("no summary here"); err == nil {
		t.Error("output without a summary: want an error")
	}
}

func TestCheckNamesThePackageOfAMissingTool(t *testing.T) {
	err := Check(Tool{Path: "/nonexistent/tool", Package: "some-package"})
	if err == nil || !strings.Contains(err.Error(), "apt-get install -y some-package") {
		t.Errorf("got %v, want an error naming some-package", err)
	}
}

func TestDeployConfPointsAtTheBenchPaths(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	text, err := DeployConf(root, "/tmp/pfx", "/tmp/pfx/up.conf", 12345)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listen 127.0.0.1:12345;", "include /tmp/pfx/up.conf;", "pid /tmp/pfx/nginx.pid;", "access_log off;"} {
		if !strings.Contains(text, want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
}

// busyChild runs a shell loop that spins, in a group of its own.
func busyChild(t *testing.T) *Child {
	t.Helper()
	c, err := StartChild(exec.Command("/bin/sh", "-c", "while :; do :; done"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(syscall.SIGKILL, time.Second) })
	return c
}

func TestSampleSeesCPUAndMemory(t *testing.T) {
	c := busyChild(t)
	s, err := Sample(c.PID(), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the kernel has charged the loop some CPU (10 ms ticks).
	WaitFor("CPU time", 30*time.Second, func() bool {
		st, err := proc.Read(c.PID())
		return err == nil && st.CPUSeconds > 0.05
	})
	u, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if u.CPUSeconds <= 0 || u.CPUPercent <= 0 || u.RSSMeanBytes <= 0 || u.RSSMaxBytes < u.RSSMeanBytes || u.Samples < 2 {
		t.Errorf("got %+v, want CPU and memory seen over at least 2 samples", u)
	}
}

func TestSampleFailsWhenTheProcessGoesAway(t *testing.T) {
	c := busyChild(t)
	s, err := Sample(c.PID(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c.Stop(syscall.SIGKILL, time.Second)
	if u, err := s.Stop(); err == nil {
		t.Errorf("got %+v and no error for a process that exited during the window", u)
	}
}

func TestChildStopTakesTheWholeGroup(t *testing.T) {
	c, err := StartChild(exec.Command("/bin/sh", "-c", "sleep 60 & wait"))
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	if err := WaitFor("the shell's child", 10*time.Second, func() bool { kids = Children(c.PID()); return len(kids) == 1 }); err != nil {
		t.Fatal(err)
	}
	grandchild, ok := Find(kids[0])
	if !ok {
		t.Fatalf("sleep (pid %d) is not running", kids[0])
	}
	c.Stop(syscall.SIGTERM, 10*time.Second)
	if !grandchild.WaitGone(10 * time.Second) {
		t.Errorf("sleep (pid %d) outlived its group's Stop", grandchild.PID)
	}
	if err := grandchild.Stop(syscall.SIGTERM, time.Second); err != nil {
		t.Errorf("Stop on a process already gone: %v", err)
	}
	if !c.Stop(syscall.SIGTERM, time.Second) {
		t.Error("a second Stop: want true (already exited)")
	}
}

func TestFindFileRefusesAPidThatIsNotRunning(t *testing.T) {
	dir := t.TempDir()
	c := busyChild(t)
	path := filepath.Join(dir, "x.pid")
	os.WriteFile(path, []byte(fmt.Sprintf("%d\n", c.PID())), 0o644)
	p, err := FindFile(path)
	if err != nil || p.PID != c.PID() || !p.Alive() {
		t.Fatalf("got %+v, %v; want the running child %d", p, err, c.PID())
	}
	c.Stop(syscall.SIGKILL, time.Second)
	if p.Alive() {
		t.Error("Alive after the process was killed and reaped")
	}
	if _, err := FindFile(path); err == nil {
		t.Error("FindFile of a pid that exited: want an error")
	}
}

func hello(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	t.Cleanup(srv.Close)
	return srv
}

func TestWrkStopsEarlyOnInterruptAndReports(t *testing.T) {
	if err := Check(Wrk); err != nil {
		t.Fatal(err)
	}
	srv := hello(t)
	w, err := StartWrk(context.Background(), WrkConfig{URL: srv.URL + "/", Method: "POST", KeepAlive: false, Served: 200,
		Duration: time.Minute, Threads: 1, Connections: 2, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // some load, whatever its rate
	w.Interrupt()
	s, err := w.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if s.Responses == 0 || s.Statuses[200] != s.Responses || len(s.Buckets) == 0 || s.Seconds <= 0 || s.Seconds >= 60 {
		t.Errorf("got %d responses, statuses %v, %d buckets, %.1fs; want only 200s, in less than the minute asked",
			s.Responses, s.Statuses, len(s.Buckets), s.Seconds)
	}
}

func TestNginxServesReloadsAndStops(t *testing.T) {
	if err := Check(Nginx); err != nil {
		t.Fatal(err)
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	srv := hello(t)
	dir := t.TempDir()
	upstream := filepath.Join(dir, "up.conf")
	os.WriteFile(upstream, []byte(fmt.Sprintf("upstream hellomgr { server %s; }\n", srv.Listener.Addr())), 0o644)
	ports, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	n := NewNginx(dir, ports[0])
	if err := n.Start(root, upstream); err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	check := func(when string) {
		resp, err := http.Get(n.URL())
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "hello" {
			t.Errorf("%s: got %d %q, want 200 hello", when, resp.StatusCode, b)
		}
	}
	check("after start")
	before := Children(n.PID())
	if err := n.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := Children(n.PID()); len(after) == 0 || slices.ContainsFunc(after, func(p int) bool { return slices.Contains(before, p) }) {
		t.Errorf("workers before the reload %v, after %v: want all new", before, after)
	}
	check("after reload")
	n.Stop()
	if PortOpen(n.Port) {
		t.Errorf("port %d still open after Stop", n.Port)
	}
}

func TestWrkWithoutServedCountsNoResponseAndMeasuresLatency(t *testing.T) {
	if err := Check(Wrk); err != nil {
		t.Fatal(err)
	}
	s, err := RunWrk(context.Background(), WrkConfig{URL: hello(t).URL + "/", Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if s.Responses == 0 || len(s.Statuses) != 0 || len(s.Buckets) != 0 || s.PerSecond() <= 0 || s.P50Ms <= 0 || s.MeanMs <= 0 {
		t.Errorf("got %d responses (%.0f/s), statuses %v, %d buckets, p50 %.3f ms, mean %.3f ms; want responses and latency, nothing counted per response",
			s.Responses, s.PerSecond(), s.Statuses, len(s.Buckets), s.P50Ms, s.MeanMs)
	}
	if !strings.HasPrefix(s.Command, Wrk.Path+" -t 1 -c 32 -d 1s") {
		t.Errorf("command %q, want the defaults (1 thread, 32 connections)", s.Command)
	}
}
