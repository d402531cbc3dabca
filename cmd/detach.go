package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/manager"
)

// readyReport tells a detaching `up` how the background manager's start
// went, over a pipe it inherited: "ok", or the error, then EOF.
type readyReport struct{ f *os.File }

func newReadyReport(fd int) *readyReport {
	if fd == 0 {
		return &readyReport{}
	}
	// The pipe must not leak into the instances, or the waiting `up -d`
	// would only see EOF when the last of them exits.
	syscall.CloseOnExec(fd)
	return &readyReport{f: os.NewFile(uintptr(fd), "ready")}
}

func (r *readyReport) send(err error) {
	if r.f == nil {
		return
	}
	if err != nil {
		fmt.Fprint(r.f, err.Error())
	} else {
		fmt.Fprint(r.f, "ok")
	}
	r.f.Close()
	r.f = nil
}

// detach starts `hellomgr up` in the background, in a session of its own,
// with its output in the state folder, and returns once it reports that
// every instance is ready (exit 0) or why not (exit 1).
func detach(ctx context.Context, cfg *config.Config, stdout io.Writer) error {
	if pid, _ := manager.RunningPID(cfg.StateDir); pid != 0 {
		return fmt.Errorf("%w (pid %d)", manager.ErrAlreadyRunning, pid)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the hellomgr binary: %w", err)
	}
	// Never through a link, and only in a state folder of our own.
	logPath := manager.BackgroundLog(cfg.StateDir)
	rotateManagerLog(logPath)
	logFile, err := manager.OpenBackgroundLog(cfg.StateDir)
	if err != nil {
		return err
	}
	defer logFile.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(self, "up", "-c", cfg.File, "--ready-fd", strconv.Itoa(3))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start the background manager: %w", err)
	}
	w.Close()
	cmd.Process.Release()
	report, _ := io.ReadAll(r)
	switch msg := strings.TrimSpace(string(report)); msg {
	case "ok":
	case "":
		return fmt.Errorf("the background manager exited while starting; see %s", logPath)
	default:
		if errors.Is(ctx.Err(), context.Canceled) {
			return ctx.Err()
		}
		if pid, _ := manager.RunningPID(cfg.StateDir); pid != 0 {
			msg += fmt.Sprintf("\nthe manager (pid %d) keeps running and retries the failed instances; see 'hellomgr status'", pid)
		}
		return errors.New(msg)
	}
	status, err := manager.Dial(cfg.Socket).Status(ctx)
	if err != nil {
		return err
	}
	printTable(stdout, status)
	return nil
}
