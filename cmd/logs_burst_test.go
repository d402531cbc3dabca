package cmd

import (
	"bufio"
	"fmt"
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

// TestLogsLoseNoLineUnderABurst: an instance under `up -d` writes 300,000
// numbered lines as fast as it can into a log of max_size 1MB, then is
// restarted and does it again. Every line is in the files exactly once,
// in order; no file is past max_size by more than one write; and a
// `hellomgr logs PORT -f` started before printed every line, in order,
// across the rotations and the restart.
func TestLogsLoseNoLineUnderABurst(t *testing.T) {
	const n = 300000
	e := newEnv(t, 1, fmt.Sprintf("command: [%q, -test.run=^$]\nenv:\n  HELLOMGR_TEST_CHILD: burst\n  BURST_LINES: %q\nlogs:\n  max_size: 1MB\n  max_files: 100\n", os.Args[0], strconv.Itoa(n)))
	port := e.ports[0]
	dir := filepath.Join(e.dir, "logs")

	follow := e.command("logs", strconv.Itoa(port), "-f", "-n", "0")
	out, err := os.Create(filepath.Join(t.TempDir(), "followed"))
	if err != nil {
		t.Fatal(err)
	}
	follow.Stdout = out
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer follow.Process.Kill()

	e.mustRun("up", "-d")
	defer e.mustRun("down")
	var pids []int
	for round := range 2 {
		if round == 1 {
			e.mustRun("restart", strconv.Itoa(port))
		}
		pid := e.statuses()[port].PID
		pids = append(pids, pid)
		testnet.WaitFor(t, fmt.Sprintf("pid %d to write its lines", pid), 60*time.Second, func() bool {
			last, _ := logs.Tail(dir, port, 1)
			return len(last) == 1 && last[0] == fmt.Sprintf("%d done", pid)
		})
	}
	testnet.WaitFor(t, "logs -f to print the last line", 30*time.Second, func() bool {
		b, _ := os.ReadFile(out.Name())
		return strings.HasSuffix(string(b), fmt.Sprintf("%d done\n", pids[1]))
	})
	follow.Process.Signal(syscall.SIGTERM)
	follow.Wait()

	old, _ := logs.Backups(dir, port)
	if len(old) < 6 {
		t.Errorf("%d rotated files for 2 x %d lines, want at least 6", len(old), n)
	}
	var files []string
	for _, f := range append(old, logs.File(dir, port)) {
		if fi, err := os.Stat(f); err != nil || fi.Size() > 1<<20+64<<10 {
			t.Errorf("%s: %v bytes (%v), want at most max_size + 64 KiB", f, fi.Size(), err)
		}
		files = append(files, readLines(t, f)...)
	}
	checkBurst(t, "the log files", files, pids, n)
	checkBurst(t, "logs -f", readLines(t, out.Name()), pids, n)
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// checkBurst checks that, for each pid in turn, lines holds "<pid> 1" to
// "<pid> n" then "<pid> done", once each and in order, among whatever
// else the instance printed.
func checkBurst(t *testing.T, what string, lines []string, pids []int, n int) {
	t.Helper()
	seen := map[int]int{}
	for i, line := range lines {
		pidText, num, ok := strings.Cut(line, " ")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil {
			continue // "serving", the restart's lines
		}
		if num == "done" {
			if seen[pid] != n {
				t.Fatalf("%s: pid %d done after %d of %d lines", what, pid, seen[pid], n)
			}
			continue
		}
		if k, _ := strconv.Atoi(num); k != seen[pid]+1 {
			t.Fatalf("%s: line %d is %q, want %d %d (lost or repeated lines)", what, i, line, pid, seen[pid]+1)
		}
		seen[pid]++
	}
	for _, pid := range pids {
		if seen[pid] != n {
			t.Errorf("%s: pid %d: %d of %d lines", what, pid, seen[pid], n)
		}
	}
}
