// Command stoptrials stops a manager in the middle of a rollout, again and
// again, at a random moment: what `systemctl stop` during `systemctl
// reload` does. Each trial runs `hellomgr up` in the foreground with 8
// slowly starting instances (the built-in server behind a shell that
// sleeps first, so each start takes a while) and max_unavailable 2, sends
// SIGHUP to start a rollout, then SIGTERM after a random delay, and
// checks that the manager exits 0 without a panic and leaves no process
// of the trial alive and no port open.
//
//	go -C bench run ./stoptrials [-trials 100] [-ports 8]
//
// It prints one line per failed trial and a summary. Every process it
// starts is found by a marker in its environment and ended by pid.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

func main() {
	trials := flag.Int("trials", 100, "rollouts to interrupt")
	nports := flag.Int("ports", 8, "instances")
	flag.Parse()
	if err := run(*trials, *nports); err != nil {
		fmt.Fprintln(os.Stderr, "bench/stoptrials:", err)
		os.Exit(1)
	}
}

func run(trials, nports int) error {
	root, err := benchkit.ModuleRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "hmst")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, err := benchkit.Build(context.Background(), root, work)
	if err != nil {
		return err
	}
	began := time.Now()
	var failed, panics int
	for i := range trials {
		problem, panicked := trial(work, bin, nports, i)
		if problem != "" {
			failed++
			fmt.Printf("trial %d: %s\n", i, problem)
		}
		if panicked {
			panics++
		}
	}
	fmt.Printf("%d trials in %s: %d panics, %d with a problem (SIGTERM 0-1.5 s after SIGHUP, %d instances starting in 0.2-0.4 s each, max_unavailable 2)\n",
		trials, time.Since(began).Round(time.Second), panics, failed, nports)
	if failed > 0 {
		return fmt.Errorf("%d of %d trials failed", failed, trials)
	}
	return nil
}

// trial runs one manager, interrupts one rollout, and says what went
// wrong, if anything.
func trial(work, bin string, nports, i int) (problem string, panicked bool) {
	dir := filepath.Join(work, strconv.Itoa(i))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err.Error(), false
	}
	ports, err := benchkit.FreePorts(nports)
	if err != nil {
		return err.Error(), false
	}
	mark := "HELLOMGR_TRIAL=" + dir
	slices.Sort(ports)
	cfg := fmt.Sprintf(`ports: %s
command: [/bin/sh, -c, 'sleep 0.$(( 2 + {port} %% 3 )); exec %s serve --port {port}']
env: {HELLOMGR_TRIAL: %q}
ready: {http: /, timeout: 10s, interval: 20ms}
reload: {max_unavailable: 2}
stop: {timeout: 5s}
metrics: {address: "off"}
`, yamlPorts(ports), bin, dir)
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o644); err != nil {
		return err.Error(), false
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "up", "-c", filepath.Join(dir, "config.yaml"))
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err.Error(), false
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer endMarked(mark)
	if err := benchkit.WaitFor("every port", 20*time.Second, func() bool {
		return !slices.ContainsFunc(ports, func(p int) bool { return !benchkit.PortOpen(p) })
	}); err != nil {
		cmd.Process.Kill()
		<-exited
		return "up: " + err.Error(), false
	}
	cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(time.Duration(rand.Int64N(int64(1500 * time.Millisecond))))
	cmd.Process.Signal(syscall.SIGTERM)
	var exitErr error
	select {
	case exitErr = <-exited:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
		return "the manager did not exit within 30 s of SIGTERM", false
	}
	panicked = strings.Contains(out.String(), "panic:")
	switch {
	case panicked:
		return "panic:\n" + out.String(), true
	case exitErr != nil:
		return fmt.Sprintf("manager: %v\n%s", exitErr, out.String()), false
	}
	if left := marked(mark); len(left) > 0 {
		return fmt.Sprintf("processes left alive: %v", left), false
	}
	for _, p := range ports {
		if benchkit.PortOpen(p) {
			return fmt.Sprintf("port %d still open", p), false
		}
	}
	return "", false
}

func yamlPorts(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// marked lists the live processes whose environment holds mark.
func marked(mark string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && slices.Contains(strings.Split(string(env), "\x00"), mark) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// endMarked kills, by pid, whatever a failed trial left behind.
func endMarked(mark string) {
	for _, pid := range marked(mark) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
