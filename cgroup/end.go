package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pids returns the processes in dir and in the cgroups below it. A cgroup
// that is gone holds none.
func pids(dir string) ([]int, error) {
	var all []int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read cgroup %s: %w", path, err)
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				all = append(all, pid)
			}
		}
		return nil
	})
	return all, err
}

// write writes s into an existing cgroup file.
func write(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// kill sends SIGKILL to every process in dir and below, through
// cgroup.kill where the kernel has it (Linux 5.14), else to each process
// until no new one appears (a process with SIGKILL pending can no longer
// fork). It does not wait for them to exit.
func kill(dir string) error {
	err := write(filepath.Join(dir, "cgroup.kill"), "1")
	if err == nil {
		return nil
	}
	if _, statErr := os.Stat(dir); errors.Is(statErr, fs.ErrNotExist) {
		return nil // gone already
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("kill cgroup %s: %w", dir, err)
	}
	return killEach(dir)
}

// killEach is kill without cgroup.kill.
func killEach(dir string) error {
	killed := map[int]bool{}
	for range 100 {
		ps, err := pids(dir)
		if err != nil {
			return err
		}
		fresh := 0
		for _, pid := range ps {
			if !killed[pid] {
				killed[pid] = true
				syscall.Kill(pid, syscall.SIGKILL)
				fresh++
			}
		}
		if fresh == 0 {
			return nil
		}
	}
	return fmt.Errorf("kill cgroup %s: new processes keep appearing", dir)
}

// waitEmpty waits up to timeout until no process is left in dir or below:
// "populated 0" in cgroup.events, which the kernel signals to poll(2) as
// POLLPRI whenever it changes.
func waitEmpty(dir string, timeout time.Duration) error {
	f, err := os.Open(filepath.Join(dir, "cgroup.events"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 128)
	for {
		n, err := f.ReadAt(buf, 0)
		if err != nil && err != io.EOF {
			if errors.Is(err, syscall.ENODEV) {
				return nil // removed: empty
			}
			return fmt.Errorf("read %s: %w", f.Name(), err)
		}
		if bytes.Contains(buf[:n], []byte("populated 0")) {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("cgroup %s: processes still there %s after SIGKILL", dir, timeout)
		}
		fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLPRI}}
		unix.Poll(fds, int(left/time.Millisecond)+1) // EINTR or a timeout: read again
	}
}

// end kills every process in dir and below, waits up to timeout until
// they have exited, and removes dir and every cgroup below it. It returns
// how many processes it found.
func end(dir string, timeout time.Duration) (int, error) {
	ps, err := pids(dir)
	if err != nil {
		return 0, err
	}
	if len(ps) > 0 {
		if err := kill(dir); err != nil {
			return len(ps), err
		}
		if err := waitEmpty(dir, timeout); err != nil {
			return len(ps), err
		}
	}
	return len(ps), removeTree(dir)
}

// removeTree removes dir and the cgroups below it, deepest first. Each
// must hold no process.
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := rmdir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}

// rmdir removes an empty cgroup. Its last process may be gone from
// cgroup.procs while the kernel still counts it as populated, for a
// moment, and refuses the removal meanwhile (EBUSY): try again, for up to
// a second.
func rmdir(dir string) error {
	deadline := time.Now().Add(time.Second)
	for {
		err := syscall.Rmdir(dir)
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}
