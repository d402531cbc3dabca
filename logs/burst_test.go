package logs

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testchild"
)

// startBurst starts a child (testchild "burst") writing n numbered lines
// into a pipe that l takes, and returns its pid and a channel closed once
// the child has exited and l has read its pipe to the end.
func startBurst(t *testing.T, l *Log, n int) (int, <-chan struct{}) {
	t.Helper()
	argv, env := testchild.Cmd("burst")
	cmd := exec.Command(argv[0], argv[1:]...)
	// Port 0: it serves on any free port, which nothing asks.
	cmd.Env = append(env, "PORT=0", "BURST_LINES="+strconv.Itoa(n))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	taken, _ := l.Take(r, cmd.Process.Pid)
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid, taken
}

// TestBurstLosesNoLine: a process writing 300,000 numbered lines as fast
// as it can into a log of max_size 1 MiB, then another process after it
// (a restart): every line is in the files exactly once and in order, no
// file is past max_size by more than one write, and a follower reading
// alongside saw every line once, in order, across the rotations and the
// restart.
func TestBurstLosesNoLine(t *testing.T) {
	const n, maxSize = 300000, 1 << 20
	dir := t.TempDir()
	l := mustOpen(t, 8001, Options{Dir: dir, MaxSize: maxSize, MaxFiles: 100})

	var followed []string
	stopFollow, followDone := make(chan struct{}), make(chan error, 1)
	var mu sync.Mutex
	go func() {
		fl := NewFollower(dir, 8001)
		defer fl.Close()
		emit := func(line []byte) {
			mu.Lock()
			followed = append(followed, string(line))
			mu.Unlock()
		}
		for {
			if err := fl.Poll(emit); err != nil {
				followDone <- err
				return
			}
			select {
			case <-stopFollow:
				followDone <- fl.Poll(emit)
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	var pids []int
	for range 2 {
		pid, taken := startBurst(t, l, n)
		pids = append(pids, pid)
		waitFor(t, fmt.Sprintf("pid %d to write its %d lines", pid, n), func() bool {
			tail, _ := Tail(dir, 8001, 1)
			return len(tail) == 1 && tail[0] == fmt.Sprintf("%d done", pid)
		})
		syscallKill(pid)
		wait(t, taken)
	}
	time.Sleep(100 * time.Millisecond)
	close(stopFollow)
	if err := <-followDone; err != nil {
		t.Fatalf("follower: %v", err)
	}

	old, _ := Backups(dir, 8001)
	var all []string
	for _, f := range append(old, File(dir, 8001)) {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > maxSize+64<<10 {
			t.Errorf("%s: %d bytes, more than max_size + 64 KiB", f, fi.Size())
		}
		all = append(all, fileLines(t, f)...)
	}
	if len(old) < 6 {
		t.Errorf("%d rotations for 2 x %d lines, want at least 6", len(old), n)
	}
	checkNumbered(t, "files", all, pids, n)
	mu.Lock()
	defer mu.Unlock()
	checkNumbered(t, "follower", followed, pids, n)
}

func syscallKill(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// checkNumbered checks that got holds, for each pid in turn, the lines
// "<pid> 1" to "<pid> n" then "<pid> done", each once and in order, and
// nothing else but what the child printed itself ("serving").
func checkNumbered(t *testing.T, what string, got []string, pids []int, n int) {
	t.Helper()
	i := 0
	for _, pid := range pids {
		prefix := strconv.Itoa(pid) + " "
		next := 1
		for ; i < len(got); i++ {
			line := got[i]
			if line == "serving" {
				continue
			}
			if line == prefix+"done" {
				break
			}
			if !strings.HasPrefix(line, prefix) {
				t.Fatalf("%s: line %d is %q, want %q", what, i, line, prefix+strconv.Itoa(next))
			}
			if num, _ := strconv.Atoi(line[len(prefix):]); num != next {
				t.Fatalf("%s: line %d is %q, want %q (lost or repeated lines)", what, i, line, prefix+strconv.Itoa(next))
			}
			next++
		}
		if next != n+1 || i == len(got) {
			t.Fatalf("%s: pid %d: %d of %d lines, then %d more lines; want all, then \"%d done\"", what, pid, next-1, n, len(got)-i, pid)
		}
		i++
	}
}
