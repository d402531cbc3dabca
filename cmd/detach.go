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

// detach starts `hellomgr up` in the background, in a session of its own,
// with its output in the state folder, and returns once it reports that
// every instance is ready (exit 0) or why not (exit 1).
func detach(ctx context.Context, cfg *config.Config, stdout io.Writer) error {
	if pid, _ := manager.RunningPID(cfg.StateDir); pid != 0 {
		return fmt.Errorf("%w (pid %d)", manager.ErrAlreadyRunning, pid)
	}
	report, err := startBackground(cfg)
	if err != nil {
		return err
	}
	if err := startFailure(ctx, cfg, report); err != nil {
		return err
	}
	status, err := clientFor(cfg).Status(ctx)
	if err != nil {
		return err
	}
	printTable(stdout, status)
	return nil
}

// startBackground starts the background manager and returns what it
// reports on its ready pipe (manager.RunOptions.ReadyFD) once it has
// started every instance: "ok" or why not; nothing if it exited first.
func startBackground(cfg *config.Config) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the hellomgr binary: %w", err)
	}
	// Never through a link, and only in a state folder of our own.
	rotateManagerLog(manager.BackgroundLog(cfg.StateDir))
	logFile, err := manager.OpenBackgroundLog(cfg.StateDir)
	if err != nil {
		return "", err
	}
	defer logFile.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer r.Close()
	cmd := exec.Command(self, "up", "-c", cfg.File, "--ready-fd", strconv.Itoa(3))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return "", fmt.Errorf("start the background manager: %w", err)
	}
	cmd.Process.Release()
	report, _ := io.ReadAll(r)
	return strings.TrimSpace(string(report)), nil
}

// startFailure is the error a background manager reported, nil for "ok".
func startFailure(ctx context.Context, cfg *config.Config, report string) error {
	switch report {
	case "ok":
		return nil
	case "":
		return fmt.Errorf("the background manager exited while starting; see %s", manager.BackgroundLog(cfg.StateDir))
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	if pid, _ := manager.RunningPID(cfg.StateDir); pid != 0 {
		report += fmt.Sprintf("\nthe manager (pid %d) keeps running and retries the failed instances; see 'hellomgr status'", pid)
	}
	return errors.New(report)
}
