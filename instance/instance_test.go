package instance

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testchild"
)

func TestMain(m *testing.M) {
	testchild.Main()
	os.Exit(m.Run())
}

// newSpec returns a spec for a test child with the given behaviour, on a
// listening socket the test owns (passed as fd 3, so no port race).
func newSpec(t *testing.T, behaviour string) Spec {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	t.Cleanup(func() { f.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	argv, env := testchild.Cmd(behaviour)
	return Spec{
		Port:        port,
		Argv:        argv,
		Env:         append(env, "LISTEN_FDS=1", "PORT="+strconv.Itoa(port)),
		Listener:    f,
		Probe:       Probe{HTTPPath: "/", Timeout: 5 * time.Second, Interval: 20 * time.Millisecond},
		StopSignal:  syscall.SIGTERM,
		StopTimeout: 5 * time.Second,
		Restart:     RestartPolicy{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, ResetAfter: time.Minute},
	}
}

func startOrFail(t *testing.T, inst *Instance, mode StartMode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := inst.Start(ctx, mode); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { inst.Stop(context.Background()) })
}

func get(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		t.Fatalf("port %d: %v", port, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestStartReturnsOnceReadyAndServes(t *testing.T) {
	inst := New(newSpec(t, "serve"), nil)
	startOrFail(t, inst, GiveUp)
	st := inst.Status()
	if st.State != Ready || st.PID == 0 {
		t.Fatalf("after start: state %s pid %d, want ready with a pid", st.State, st.PID)
	}
	if got, want := get(t, st.Port), "pid "+strconv.Itoa(st.PID); !strings.HasPrefix(got, want) {
		t.Fatalf("port %d: got %q, want %q", st.Port, got, want)
	}
}

func TestStartFailsWhenChildExitsBeforeReady(t *testing.T) {
	inst := New(newSpec(t, "exit-at-once"), nil)
	err := inst.Start(context.Background(), GiveUp)
	if err == nil {
		t.Fatal("start succeeded, want an error")
	}
	for _, want := range []string{"exited before ready: exit status 3", "boom: config missing", strconv.Itoa(inst.spec.Port)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if st := inst.Status(); st.State != Failed {
		t.Errorf("state %s, want failed", st.State)
	}
	var se *StartError
	var exit *exec.ExitError
	if !errors.As(err, &se) || se.PID == 0 || !strings.Contains(se.Output, "boom: config missing") {
		t.Errorf("start error %#v, want a *StartError with the pid and the output", err)
	}
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("start error %v does not unwrap to the *exec.ExitError of status 3", err)
	}
}

func TestStartFailsWhenExecutableIsMissing(t *testing.T) {
	spec := newSpec(t, "serve")
	spec.Argv = []string{"/nonexistent/app"}
	err := New(spec, nil).Start(context.Background(), GiveUp)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/app") {
		t.Fatalf("start error %v, want one naming /nonexistent/app", err)
	}
	var se *StartError
	if !errors.As(err, &se) || se.PID != 0 || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("start error %#v, want a *StartError with no pid, wrapping fs.ErrNotExist", err)
	}
}

func TestKilledInstanceIsRestartedAndCounted(t *testing.T) {
	inst := New(newSpec(t, "serve"), nil)
	startOrFail(t, inst, GiveUp)
	old := inst.Status().PID
	syscall.Kill(old, syscall.SIGKILL)
	waitFor(t, "a new ready process", func() bool {
		st := inst.Status()
		return st.State == Ready && st.PID != old
	})
	st := inst.Status()
	if st.Restarts["killed"] != 1 {
		t.Fatalf("restarts %v, want killed: 1", st.Restarts)
	}
	if got := get(t, st.Port); !strings.Contains(got, strconv.Itoa(st.PID)) {
		t.Fatalf("port %d: got %q from the old process, want pid %d", st.Port, got, st.PID)
	}
}

func TestBackoffDoublesUpToTheCap(t *testing.T) {
	b := RestartPolicy{Initial: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := backoffDelay(b, i+1); got != w*time.Millisecond {
			t.Errorf("failure %d: delay %s, want %s", i+1, got, w*time.Millisecond)
		}
	}
}

func TestStopIsGracefulAndReachesTheGroup(t *testing.T) {
	spec := newSpec(t, "with-grandchild")
	inst := New(spec, nil)
	startOrFail(t, inst, GiveUp)
	grandchild := grandchildren(t, inst)[0]
	pid := inst.Status().PID
	if err := inst.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := inst.Status()
	if st.State != Stopped || st.LastExitCode != 0 {
		t.Fatalf("after stop: state %s exit code %d, want stopped with 0", st.State, st.LastExitCode)
	}
	waitFor(t, "the process group to be gone", func() bool { return !alive(pid) && !alive(grandchild) })
	if err := inst.Stop(context.Background()); err != nil {
		t.Fatalf("second stop: %v", err)
	}
}

func TestStopKillsAChildThatIgnoresTheSignal(t *testing.T) {
	spec := newSpec(t, "ignore-term")
	spec.StopTimeout = 200 * time.Millisecond
	inst := New(spec, nil)
	startOrFail(t, inst, GiveUp)
	start := time.Now()
	if err := inst.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := inst.Status(); st.State != Stopped || st.LastExitCode != -1 {
		t.Fatalf("state %s exit code %d, want stopped after SIGKILL (-1)", st.State, st.LastExitCode)
	}
	if waited := time.Since(start); waited < spec.StopTimeout {
		t.Fatalf("stopped after %s, before the %s stop timeout: SIGTERM was not ignored?", waited, spec.StopTimeout)
	}
}

func TestNotifyReadinessWaitsForTheProcessToSayReady(t *testing.T) {
	spec := newSpec(t, "notify-ready")
	spec.Probe.Notify = true
	inst := New(spec, nil)
	startOrFail(t, inst, GiveUp)
	if got := get(t, spec.Port); !strings.HasPrefix(got, "pid "+strconv.Itoa(inst.Status().PID)) {
		t.Fatalf("port %d: got %q from another process", spec.Port, got)
	}
}

func TestNotifyReadinessFailsWithoutReady(t *testing.T) {
	spec := newSpec(t, "serve") // serves, but never says READY=1
	spec.Probe.Notify = true
	spec.Probe.Timeout = 300 * time.Millisecond
	err := New(spec, nil).Start(context.Background(), GiveUp)
	if err == nil || !strings.Contains(err.Error(), "no READY=1 within ready.timeout (300ms): does the app use NOTIFY_SOCKET?") {
		t.Fatalf("start error %v, want one saying no READY=1 came", err)
	}
}
