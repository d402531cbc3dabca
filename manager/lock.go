package manager

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrAlreadyRunning is returned by Prepare when a manager holds the config's lock.
var ErrAlreadyRunning = errors.New("already running")

// pidLock is the pid file, held with flock for the manager's whole life.
// The kernel drops the lock when the process dies, however it dies, so a
// pid file left by a manager killed with SIGKILL is stale by construction
// and never blocks the next `up`.
type pidLock struct{ f *os.File }

func pidPath(stateDir string) string { return filepath.Join(stateDir, "hellomgr.pid") }

// lockPID takes the lock and writes our pid, or says who holds it. The
// state folder must be a real folder only its owner (this user or root)
// can write, and the pid file is never opened through a link.
func lockPID(stateDir string) (*pidLock, error) {
	if err := makeFolder(stateDir, stateFolder, 0o700); err != nil {
		return nil, err
	}
	f, err := openOwned(stateFolder, pidPath(stateDir), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open pid file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid, _ := RunningPID(stateDir)
			return nil, fmt.Errorf("%w (pid %d)", ErrAlreadyRunning, pid)
		}
		return nil, fmt.Errorf("lock pid file: %w", err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write pid file: %w", err)
	}
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return &pidLock{f: f}, nil
}

func (l *pidLock) release() {
	os.Remove(l.f.Name())
	l.f.Close()
}

// RunningPID returns the pid of the manager that holds the lock in
// stateDir, or 0 when none does (no file, or a stale one).
func RunningPID(stateDir string) (int, error) {
	f, err := os.OpenFile(pidPath(stateDir), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	// If we can take the lock, nobody holds it: the file is stale.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return 0, nil
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
