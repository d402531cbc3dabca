package hooks

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log the hook goroutines write to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func command(t *testing.T, script string, timeout time.Duration) (Command, *syncBuffer) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	return Command{Name: "on_restart", Argv: []string{path}, Dir: dir, Timeout: timeout, Log: slog.New(slog.NewTextHandler(&log, nil))}, &log
}

func wait(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := q.wait(ctx); err != nil {
		t.Fatalf("hook still running after 20s: %v", err)
	}
}

func TestHookGetsTheEventInItsEnvironment(t *testing.T) {
	c, log := command(t, `env | grep -E '^(PORT|PID|STATE|REASON|LAST_EXIT)=' | sort > env.txt`+"\n", 10*time.Second)
	var q Queue
	exit := 137
	q.Run(c, Event{Port: 8001, PID: 4242, State: "backoff", Reason: "killed", LastExit: &exit})
	wait(t, &q)
	got, _ := os.ReadFile(filepath.Join(c.Dir, "env.txt"))
	want := "LAST_EXIT=137\nPID=4242\nPORT=8001\nREASON=killed\nSTATE=backoff\n"
	if string(got) != want {
		t.Errorf("hook environment:\n%s\nwant:\n%s\nlog: %s", got, want, log)
	}
	if !strings.Contains(log.String(), "hook ran") {
		t.Errorf("log: %s; want a line saying the hook ran", log)
	}
}

// A hook still running at its timeout is killed, with what it started,
// and that is logged once; Run never waits for it.
func TestHangingHookIsKilledAtItsTimeoutAndLoggedOnce(t *testing.T) {
	c, log := command(t, "sleep 300 &\necho $! > child.pid\nsleep 300\n", 300*time.Millisecond)
	var q Queue
	begun := time.Now()
	q.Run(c, Event{Port: 8001, Reason: "liveness"})
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if q.wait(done) == nil {
		t.Errorf("the hook had ended when Run returned; want Run to return while it runs")
	}
	wait(t, &q)
	t.Logf("hook with a 300ms timeout ended after %s", time.Since(begun).Round(time.Millisecond))
	if n := strings.Count(log.String(), "hook killed after its timeout of 300ms"); n != 1 {
		t.Errorf("log has %d lines about the kill, want 1:\n%s", n, log)
	}
	b, _ := os.ReadFile(filepath.Join(c.Dir, "child.pid"))
	pid := strings.TrimSpace(string(b))
	if pid == "" {
		t.Fatal("the hook did not write its child's pid")
	}
	// SIGKILL went to the group; the child is gone (or a zombie) soon after.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hook's own child, pid %s, outlived the kill by 10s", pid)
		}
	}
}

// Events that come while the hook runs are coalesced: the latest one
// runs next, once; those it replaced never run.
func TestEventsWhileAHookRunsAreCoalescedToTheLatest(t *testing.T) {
	c, _ := command(t, "echo $PID >> runs.txt\n[ -e go ] || { touch started; while [ ! -e go ]; do sleep 0.01; done; }\n", 20*time.Second)
	var q Queue
	q.Run(c, Event{Port: 8001, PID: 1})
	for _, err := os.Stat(filepath.Join(c.Dir, "started")); err != nil; _, err = os.Stat(filepath.Join(c.Dir, "started")) {
		time.Sleep(5 * time.Millisecond)
	}
	for pid := 2; pid <= 5; pid++ {
		q.Run(c, Event{Port: 8001, PID: pid})
	}
	os.WriteFile(filepath.Join(c.Dir, "go"), nil, 0o644)
	wait(t, &q)
	got, _ := os.ReadFile(filepath.Join(c.Dir, "runs.txt"))
	if string(got) != "1\n5\n" {
		t.Errorf("hook ran for pids %q, want 1 then 5 (the latest of those that came while it ran)", got)
	}
}

// The example hook posts the event to a webhook with curl.
func TestExampleHookPostsToAWebhook(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is missing: %v (apt-get install -y curl)", err)
	}
	bodies := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- r.Header.Get("Content-Type") + " " + string(b)
	}))
	defer srv.Close()
	t.Setenv("WEBHOOK_URL", srv.URL)
	script, _ := filepath.Abs("../examples/hooks/notify.sh")
	var log syncBuffer
	c := Command{Name: "on_restart", Argv: []string{script}, Dir: t.TempDir(), Timeout: 10 * time.Second, Log: slog.New(slog.NewTextHandler(&log, nil))}
	var q Queue
	q.Run(c, Event{Port: 8201, PID: 77, State: "ready", Reason: "liveness"})
	wait(t, &q)
	select {
	case got := <-bodies:
		if want := `port 8201 ready (liveness), pid 77, last exit "}`; !strings.HasPrefix(got, "application/json {") || !strings.HasSuffix(got, want) {
			t.Errorf("webhook got %q, want JSON ending in %q", got, want)
		}
	default:
		t.Errorf("the webhook got nothing; log:\n%s", &log)
	}
}
