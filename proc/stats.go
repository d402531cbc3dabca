package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat. The kernel
// reports it to user space as 100 on every architecture hellomgr runs on
// (sysconf(_SC_CLK_TCK) would need cgo to ask).
const clockTicks = 100

// Stats is a snapshot of one process's resource usage.
type Stats struct {
	CPUSeconds float64   // user + system CPU time
	RSSBytes   int64     // resident set size
	OpenFDs    int       // open file descriptors
	Threads    int       // threads, the main one included
	StartTime  time.Time // when the process started: 10 ms ticks after a boot time known to the second
}

// Read returns the resource usage of the process pid.
//
// When no such process exists, or it has exited and waits to be reaped (a
// zombie), the error wraps os.ErrNotExist, so that a caller can report the
// process as down rather than fail. Other errors (such as the permission to
// list another user's file descriptors) are returned as they are.
func Read(pid int) (Stats, error) {
	if pid <= 0 {
		return Stats{}, fmt.Errorf("read process %d: %w", pid, notExist("no such process"))
	}
	st, err := readStat(pid)
	if err != nil {
		return Stats{}, fmt.Errorf("read process %d: %w", pid, err)
	}
	fds, err := countFDs(pid)
	if err != nil {
		return Stats{}, fmt.Errorf("read process %d: %w", pid, err)
	}
	st.OpenFDs = fds
	return st, nil
}

// ReadUsage is Read without the open-descriptor count, which costs a
// directory listing per process: `hellomgr status` shows CPU and memory of
// every instance and must stay cheap with hundreds of them. OpenFDs is 0.
func ReadUsage(pid int) (Stats, error) {
	if pid <= 0 {
		return Stats{}, fmt.Errorf("read process %d: %w", pid, notExist("no such process"))
	}
	st, err := readStat(pid)
	if err != nil {
		return Stats{}, fmt.Errorf("read process %d: %w", pid, err)
	}
	return st, nil
}

// readStat parses /proc/PID/stat, whose fields proc(5) numbers from 1.
func readStat(pid int) (Stats, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stats{}, vanished(err)
	}
	// Field 2, the command, is in parentheses and may itself hold spaces and
	// parentheses: the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return Stats{}, fmt.Errorf("parse /proc/%d/stat: no ')' after the command", pid)
	}
	f := bytes.Fields(data[i+1:]) // f[0] is field 3
	if len(f) < 22 {
		return Stats{}, fmt.Errorf("parse /proc/%d/stat: %d fields, want at least 24", pid, len(f)+2)
	}
	if state := f[0][0]; state == 'Z' || state == 'X' {
		return Stats{}, notExist("process has exited and is not yet reaped")
	}
	var n [5]uint64 // utime (14), stime (15), num_threads (20), starttime (22), rss (24)
	for j, field := range [5]int{14, 15, 20, 22, 24} {
		n[j], err = strconv.ParseUint(string(f[field-3]), 10, 64)
		if err != nil {
			return Stats{}, fmt.Errorf("parse /proc/%d/stat field %d: %w", pid, field, err)
		}
	}
	boot, err := bootTime()
	if err != nil {
		return Stats{}, err
	}
	return Stats{
		CPUSeconds: float64(n[0]+n[1]) / clockTicks,
		Threads:    int(n[2]),
		StartTime:  boot.Add(time.Duration(n[3]) * (time.Second / clockTicks)),
		RSSBytes:   int64(n[4]) * int64(os.Getpagesize()),
	}, nil
}

// countFDs counts the entries of /proc/PID/fd.
func countFDs(pid int) (int, error) {
	d, err := os.Open("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return 0, vanished(err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, vanished(err)
	}
	return len(names), nil
}

// bootTime is the btime line of /proc/stat, read once: a process's start
// time in /proc/PID/stat counts clock ticks from it.
var bootTime = sync.OnceValues(func() (time.Time, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, fmt.Errorf("read boot time: %w", err)
	}
	for line := range bytes.Lines(data) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			sec, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("parse btime in /proc/stat: %w", err)
			}
			return time.Unix(sec, 0), nil
		}
	}
	return time.Time{}, errors.New("no btime line in /proc/stat")
})

// vanished makes err wrap os.ErrNotExist when it says that the process went
// away: a /proc/PID file opened just before the process was reaped fails to
// read with ESRCH rather than ENOENT.
func vanished(err error) error {
	if errors.Is(err, syscall.ESRCH) && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w (%w)", os.ErrNotExist, err)
	}
	return err
}

// notExist is an error that says why a process is gone and matches
// os.ErrNotExist, without the "file does not exist" that wrapping it with
// %w would add to the message.
type notExist string

func (e notExist) Error() string        { return string(e) }
func (e notExist) Is(target error) bool { return target == os.ErrNotExist }
