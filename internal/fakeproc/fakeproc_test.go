package fakeproc

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hellomgr/hellomgr/instance"
)

// Fake pids are above any real one, so a kill(2) of one reaches nobody.
func TestPIDsAreNobodys(t *testing.T) {
	a, b := New(), New()
	pa, _ := a.Launch(instance.Spec{})
	pb, _ := b.Launch(instance.Spec{})
	if pa.PID() <= 1<<22 || pb.PID() == pa.PID() {
		t.Fatalf("pids %d and %d: want distinct pids above 4194304", pa.PID(), pb.PID())
	}
	if err := syscall.Kill(-pa.PID(), syscall.SIGKILL); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("kill(-%d): %v, want ESRCH", pa.PID(), err)
	}
}

func TestQueuedPlansComeBeforeTheDefault(t *testing.T) {
	errSpawn := errors.New("no such file")
	l := New()
	l.Default(Plan{Exit: true, ExitCode: 7})
	l.Queue(Plan{SpawnError: errSpawn}, Plan{})
	if _, err := l.Launch(instance.Spec{}); err != errSpawn {
		t.Fatalf("first launch: %v, want the queued spawn error", err)
	}
	second, _ := l.Launch(instance.Spec{})
	third, _ := l.Launch(instance.Spec{})
	select {
	case err := <-second.Exited():
		t.Fatalf("second process exited (%v), want it running (zero plan)", err)
	default:
	}
	if err := <-third.Exited(); err == nil || err.Error() != "exit status 7" {
		t.Fatalf("third process exited with %v, want exit status 7 (default plan)", err)
	}
	if n, started := l.Launches(), l.Started(); n != 3 || len(started) != 2 || started[0] != second.PID() {
		t.Fatalf("%d launches, started %v; want 3 launches, 2 started", n, started)
	}
}

func TestExitErrorReadsLikeExecs(t *testing.T) {
	for _, c := range []struct {
		e    ExitError
		text string
		code int
	}{
		{ExitError{Code: 3}, "exit status 3", 3},
		{ExitError{Signal: syscall.SIGKILL}, "signal: killed", -1},
		{ExitError{Code: 1, Reason: "port busy"}, "exit status 1 (fake: port busy)", 1},
	} {
		if c.e.Error() != c.text || c.e.ExitCode() != c.code {
			t.Errorf("%+v: %q, code %d; want %q, %d", c.e, c.e.Error(), c.e.ExitCode(), c.text, c.code)
		}
	}
}

// The stop signal: recorded, then ignored, or obeyed after the delay.
func TestStopFollowsThePlan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New()
		l.Queue(Plan{IgnoreStop: true}, Plan{StopDelay: time.Second})
		stubborn, _ := l.Launch(instance.Spec{})
		slow, _ := l.Launch(instance.Spec{})
		stubborn.Stop(syscall.SIGTERM)
		slow.Stop(syscall.SIGTERM)
		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		if len(stubborn.Exited())+len(slow.Exited()) != 0 {
			t.Fatal("a process exited before its stop delay")
		}
		time.Sleep(time.Nanosecond)
		if err := <-slow.Exited(); err != nil {
			t.Fatalf("slow process exited with %v, want status 0", err)
		}
		stubborn.Kill()
		stubborn.Kill() // safe twice
		var exit *ExitError
		if err := <-stubborn.Exited(); !errors.As(err, &exit) || exit.ExitCode() != -1 {
			t.Fatalf("killed process exited with %v, want killed", err)
		}
		if s, k := l.Stopped(), l.Killed(); len(s) != 2 || len(k) != 1 || k[0] != stubborn.PID() {
			t.Fatalf("stopped %v, killed %v", s, k)
		}
	})
}

// With a Listener (socket handoff) and an HTTP probe, a ready fake
// answers on a copy of the Listener, until it exits.
func TestReadyServesHTTPOnTheListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	l := New()
	l.Default(Plan{Ready: true})
	p, err := l.Launch(instance.Spec{Port: port, Listener: f, Probe: instance.Probe{HTTPPath: "/"}})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		t.Fatalf("port %d: %v", port, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "fake pid " + strconv.Itoa(p.PID()) + "\n"; string(body) != want {
		t.Fatalf("port %d: got %q, want %q", port, body, want)
	}
	p.(*Process).Exit(0)
	<-p.Exited()
	if err := p.(*Process).Ready(); err == nil {
		t.Fatal("Ready after exit succeeded, want an error")
	}
}
