package cmd

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// status --watch redraws the table in place, as watch(1) does: each frame
// from the cursor's home, each line cleared to its end and the screen
// below cleared, the screen fully cleared once only; a stopped port shows
// in a later frame; Ctrl-C ends it with exit 0 and the cursor back.
func TestStatusWatchRedrawsInPlaceUntilInterrupted(t *testing.T) {
	e := newEnv(t, 2, "")
	e.mustRun("up", "-d")
	cmd := e.command("status", "--watch", "--interval", "100ms")
	var out testnet.LockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL) // by pid; a no-op once it has exited
	}()
	frames := func() []string { return strings.Split(out.String(), termHome)[1:] }
	testnet.WaitFor(t, "three frames", 30*time.Second, func() bool { return len(frames()) >= 4 })

	stopped := strconv.Itoa(e.ports[1])
	e.mustRun("stop", stopped)
	testnet.WaitFor(t, "a frame with port "+stopped+" stopped", 30*time.Second, func() bool {
		f := frames()
		return strings.Contains(f[len(f)-2], stopped+"  -") && strings.Contains(f[len(f)-2], "stopped")
	})
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("status --watch after Ctrl-C: %v, want exit 0\n%q", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("status --watch still running 30s after SIGINT")
	}

	text := out.String()
	if !strings.HasPrefix(text, termHideCursor+termHome+termClearAll) || strings.Count(text, termClearAll) != 1 {
		t.Errorf("want the screen cleared once, at the start: %q", text[:min(len(text), 80)])
	}
	if !strings.HasSuffix(text, termClearBelow+termShowCursor+"\n") {
		t.Errorf("want the last frame whole and the cursor shown again at the end: %q", text[max(0, len(text)-80):])
	}
	f := frames()
	for i, fr := range f[1 : len(f)-1] { // the first is the initial clear's
		for _, line := range strings.SplitAfter(strings.TrimSuffix(fr, termClearBelow), "\n") {
			if line != "" && !strings.HasSuffix(line, termClearLine+"\n") {
				t.Fatalf("frame %d: line %q not cleared to its end", i+1, line)
			}
		}
		if !strings.HasSuffix(fr, termClearBelow) || !strings.Contains(fr, "PORT") || !strings.Contains(fr, strconv.Itoa(e.ports[0])) {
			t.Fatalf("frame %d: %q, want the table ending with the screen below cleared", i+1, fr)
		}
	}
}

func TestStatusWatchRefusesJSON(t *testing.T) {
	_, stderr, code := execute("status", "--watch", "--json", "-c", "nowhere.yaml")
	if code != 2 || !strings.Contains(stderr, "--watch and --json") {
		t.Errorf("status --watch --json: exit %d, %q; want 2 and why", code, stderr)
	}
}

// A frame taller than the terminal keeps to its height (it would scroll,
// and the next frame would be drawn below instead of over it), saying
// how many lines it left out.
func TestWatchFrameKeepsToTheScreen(t *testing.T) {
	text := "h1\nh2\nr1\nr2\nr3\nr4\n"
	got := string(drawFrame(text, 5))
	want := termHome + "h1" + termClearLine + "\nh2" + termClearLine + "\nr1" + termClearLine + "\n" +
		"… 3 more lines: a taller terminal shows them, or hellomgr status" + termClearLine + "\n" + termClearBelow
	if got != want {
		t.Errorf("frame of 6 lines on 5 rows:\n got %q\nwant %q", got, want)
	}
	if got := string(drawFrame(text, 0)); strings.Count(got, termClearLine) != 6 {
		t.Errorf("frame with no height: %q, want all 6 lines", got)
	}
	if got := string(drawFrame(text, 7)); strings.Contains(got, "more lines") {
		t.Errorf("frame of 6 lines on 7 rows: %q, want it whole", got)
	}
}
