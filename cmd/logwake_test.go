package cmd

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
	"github.com/hellomgr/hellomgr/logs"
)

// pacedEnv names, in an instance's environment, the file whose presence
// makes the test binary, as that instance, write numbered lines one at a
// time with a pause between them (as an app logging each request does).
const pacedEnv = "HELLOMGR_TEST_PACED_WHILE"

func init() {
	if path := os.Getenv(pacedEnv); path != "" {
		os.Exit(pacedWriter(path))
	}
}

// pacedWriter listens on $PORT (for readiness) and, while path exists,
// writes "line N", one write(2) each, 300 µs apart.
func pacedWriter(path string) int {
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer ln.Close()
	for n := 1; ; {
		if _, err := os.Stat(path); err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		fmt.Fprintf(os.Stdout, "line %d\n", n)
		n++
		// nanosleep itself: Go's timers round so short a sleep up to 1 ms.
		syscall.Nanosleep(&syscall.Timespec{Nsec: 300_000}, nil)
	}
}

// TestManagerWakesPerBatchNotPerLogLine: while an instance writes lines
// one at a time, the manager is woken per batch of its log (logs.Batch),
// not per line, before and after an upgrade. It counts the manager's
// voluntary context switches (every wakeup of one of its threads ends in
// one), beyond what it makes while the instance is quiet, per 10,000
// lines: a count, which a loaded machine does not inflate as it does CPU
// time. A descriptor of the instance's pipe left in Go's poller, which
// is edge-triggered, costs a wakeup per line: about 10,000. And it reads
// the manager's epoll sets (/proc/PID/fdinfo): no edge-triggered entry
// may watch the pipe.
func TestManagerWakesPerBatchNotPerLogLine(t *testing.T) {
	e := newEnv(t, 1, "")
	gate := filepath.Join(e.dir, "write")
	e.writeConfig(fmt.Sprintf("command: [%q, -test.run=^$]\nenv:\n  %s: %q\nready:\n  tcp: true\n  timeout: 10s\n", os.Args[0], pacedEnv, gate))
	e.mustRun("up", "-d")
	defer e.mustRun("down")
	port := e.ports[0]
	lines := func() int {
		last, _ := logs.Tail(filepath.Join(e.dir, "logs"), port, 1)
		if len(last) == 0 {
			return 0
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(last[0], "line "))
		return n
	}
	for _, when := range []string{"after up", "after an upgrade"} {
		if when == "after an upgrade" {
			if out, errOut, code := e.runWith(e.newBinary("hellomgr-new"), "upgrade"); code != 0 {
				t.Fatalf("upgrade: exit %d\n%s%s", code, out, errOut)
			}
		}
		manager, child := e.managerPID(), e.statuses()[port].PID
		perLines := wakeupsPer10kLines(t, manager, gate, lines)
		t.Logf("%s: %d switches of the manager per 10,000 lines beyond its quiet rate", when, perLines)
		if perLines > 2500 {
			t.Errorf("%s: the manager made %d context switches per 10,000 lines its instance wrote (beyond its quiet rate), want at most 2,500: woken per line, not per batch", when, perLines)
		}
		for _, held := range edgeTriggeredHolders(t, manager, pipeInode(t, child)) {
			t.Errorf("%s: the instance's output pipe is in an edge-triggered epoll set of the manager (Go's poller): %s", when, held)
		}
	}
}

// wakeupsPer10kLines measures manager's voluntary context switches for 2 s
// with the instance quiet, then while it writes at least 10,000 lines
// (gate present), and returns the second beyond the first's rate, per
// 10,000 lines.
func wakeupsPer10kLines(t *testing.T, manager int, gate string, lines func() int) int {
	t.Helper()
	q0, qt := switches(t, manager), time.Now()
	time.Sleep(2 * time.Second)
	quietRate := float64(switches(t, manager)-q0) / time.Since(qt).Seconds()

	from := lines()
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s0, st := switches(t, manager), time.Now()
	testnet.WaitFor(t, "10,000 lines in the log", 120*time.Second, func() bool { return lines() >= from+10000 })
	s1, dur, written := switches(t, manager), time.Since(st).Seconds(), lines()-from
	os.Remove(gate)
	excess := float64(s1-s0) - quietRate*dur
	t.Logf("%d lines in %.1f s, %d switches, %.0f a second when quiet", written, dur, s1-s0, quietRate)
	return int(excess * 10000 / float64(written))
}

// switches sums the voluntary context switches of pid's threads.
func switches(t *testing.T, pid int) int {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads of manager %d: %v", pid, err)
	}
	sum := 0
	for _, path := range tasks {
		b, _ := os.ReadFile(path)
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				sum += n
			}
		}
	}
	return sum
}

// pipeInode is the inode of the pipe that is pid's stdout, in hex as
// fdinfo prints it.
func pipeInode(t *testing.T, pid int) string {
	t.Helper()
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/1", pid))
	n, perr := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "pipe:["), "]"), 10, 64)
	if err != nil || perr != nil {
		t.Fatalf("stdout of instance %d: %q, %v", pid, link, err)
	}
	return strconv.FormatUint(n, 16)
}

// edgeTriggeredHolders lists the entries of pid's epoll sets that watch
// the file of inode ino edge-triggered (EPOLLET, as Go's poller
// registers every descriptor it holds).
func edgeTriggeredHolders(t *testing.T, pid int, ino string) []string {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, fd := range fds {
		if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); link != "anon_inode:[eventpoll]" {
			continue
		}
		f, err := os.Open(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, fd.Name()))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// tfd:       14 events: 8000201d data: ... pos:0 ino:3f53 sdev:d
			fields := strings.Fields(sc.Text())
			if len(fields) < 8 || fields[0] != "tfd:" || !strings.Contains(sc.Text(), " ino:"+ino+" ") {
				continue
			}
			if ev, err := strconv.ParseUint(fields[3], 16, 32); err == nil && ev&0x80000000 != 0 {
				held = append(held, fmt.Sprintf("epoll fd %s: %s", fd.Name(), sc.Text()))
			}
		}
		f.Close()
	}
	return held
}
