package instance

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The experiment behind the spawn thread (thread.go): a child started
// with Pdeathsig=SIGKILL survives its parent's execve(2) when the thread
// that forked it is the thread that execs, and is killed when another
// thread execs. The test binary plays the parent: experiment runs in
// init, before the tests, when execEnv is set.

const execEnv = "HELLOMGR_EXEC_EXPERIMENT" // case:generation:child pid

func init() {
	if v := os.Getenv(execEnv); v != "" {
		os.Exit(experiment(v))
	}
}

// experiment forks a child (sleep) in generation 0, then execs the test
// binary itself, generation after generation, and in the last one sends
// the child SIGTERM and reaps it: a child that was killed by its
// parent-death signal shows SIGKILL instead. Cases:
//
//	spawn-thread: fork on the spawn thread (ServeSpawns on the main
//	              thread), exec with ExecKeeping, twice;
//	fallback:     fork on the fallback spawn thread (not the main
//	              thread), exec with ExecKeeping from it, then once
//	              more from the new program's main thread;
//	other-thread: fork on a locked thread of its own, exec from the
//	              spawn thread.
func experiment(v string) int {
	parts := strings.Split(v, ":")
	kind := parts[0]
	gen, _ := strconv.Atoi(parts[1])
	pid, _ := strconv.Atoi(parts[2])
	if gen > 2 {
		fmt.Println("runaway generation", gen)
		return 1
	}
	next := func() error {
		os.Setenv(execEnv, fmt.Sprintf("%s:%d:%d", kind, gen+1, pid))
		return ExecKeeping("/proc/self/exe", os.Args, os.Environ(), nil)
	}
	switch {
	case gen == 0 && kind == "fallback": // no ServeSpawns: the fallback thread forks and execs
		pid = forkSleeper(kind)
		fmt.Println(next())
		return 1
	case gen == 0:
		fmt.Println(ServeSpawns(func() error {
			pid = forkSleeper(kind)
			return next()
		}))
		return 1
	case gen == 1 && kind != "other-thread":
		fmt.Println(ServeSpawns(next))
		return 1
	}
	syscall.Kill(pid, syscall.SIGTERM)
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		fmt.Println("wait:", err)
		return 1
	}
	fmt.Printf("generation %d: child %s\n", gen, ws.Signal())
	return 0
}

func forkSleeper(kind string) int {
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	switch kind {
	case "other-thread":
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread() // and never unlocked: the thread ends with the exec
			err = cmd.Start()
			close(done)
			select {}
		}()
		<-done
	default:
		onSpawnThread(func() { err = cmd.Start() })
	}
	if err != nil {
		panic(err)
	}
	return cmd.Process.Pid
}

func TestChildOfTheSpawnThreadSurvivesExec(t *testing.T) {
	for kind, want := range map[string]string{
		"spawn-thread": "generation 2: child terminated",
		"fallback":     "generation 2: child terminated",
		"other-thread": "generation 1: child killed",
	} {
		t.Run(kind, func(t *testing.T) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), execEnv+"="+kind+":0:0")
			out, err := cmd.CombinedOutput()
			if got := strings.TrimSpace(string(out)); err != nil || got != want {
				t.Fatalf("%s: got %q (%v), want %q", kind, got, err, want)
			}
		})
	}
}
