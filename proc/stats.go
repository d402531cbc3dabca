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
	VMBytes    int64     // virtual memory size
	OpenFDs    int       // open file descriptors
	Threads    int       // threads, the main one included
	StartTime  time.Time // when the process started: 10 ms ticks after a boot time known to the second
}

// Read returns the resource usage of the process pid. It costs three
// system calls to read /proc/PID/stat (open, read, close) and one stat(2)
// of /proc/PID/fd, whose size is the number of open descriptors on Linux
// 6.2 and later; only older kernels, which report 0 there, list the folder.
// See Cache for a reader that shares results between callers.
//
// When no such process exists, or it has exited and waits to be reaped (a
// zombie), the error wraps os.ErrNotExist, so that a caller can report the
// process as down rather than fail. Other errors (such as the permission to
// list another user's file descriptors) are returned as they are.
func Read(pid int) (Stats, error) {
	if pid <= 0 {
		return Stats{}, fmt.Errorf("read process %d: %w", pid, notExist("no such process"))
	}
	dir := "/proc/" + strconv.Itoa(pid)
	st, err := readStat(pid, dir)
	if err != nil {
		return Stats{}, fmt.Errorf("read process %d: %w", pid, err)
	}
	if st.OpenFDs, err = countFDs(dir + "/fd"); err != nil {
		return Stats{}, fmt.Errorf("read process %d: %w", pid, err)
	}
	return st, nil
}

// ReadUsage is Read without the open-descriptor count: OpenFDs is 0. It
// saves the one stat(2) that count takes.
func ReadUsage(pid int) (Stats, error) {
	if pid <= 0 {
		return Stats{}, fmt.Errorf("read process %d: %w", pid, notExist("no such process"))
	}
	st, err := readStat(pid, "/proc/"+strconv.Itoa(pid))
	if err != nil {
		return Stats{}, fmt.Errorf("read process %d: %w", pid, err)
	}
	return st, nil
}

// statSize bounds /proc/PID/stat: 52 fields of at most 20 digits, and a
// command of at most 64 bytes, fit with room to spare.
const statSize = 2048

// readStat parses dir/stat, pid's, whose fields proc(5) numbers from 1.
// It reads the file with one pread(2) if it is held (Hold), or else with
// one read(2) into a buffer, without the runtime's poller (which os.Open
// would try, and fail, to register with). A read that fills the buffer is
// a file longer than any stat, and an error.
func readStat(pid int, dir string) (Stats, error) {
	var buf [statSize]byte
	size, ok, err := readHeld(pid, buf[:])
	if !ok {
		size, err = readSmall(dir+"/stat", buf[:])
	}
	if err == nil && size == len(buf) {
		err = fmt.Errorf("read %s/stat: longer than %d bytes", dir, len(buf))
	}
	if err != nil {
		return Stats{}, vanished(err)
	}
	n, err := statFields(dir, buf[:size])
	if err != nil {
		return Stats{}, err
	}
	boot, err := bootTime()
	if err != nil {
		return Stats{}, err
	}
	return Stats{
		CPUSeconds: float64(n[0]+n[1]) / clockTicks,
		Threads:    int(n[2]),
		StartTime:  boot.Add(time.Duration(n[3]) * (time.Second / clockTicks)),
		VMBytes:    int64(n[4]),
		RSSBytes:   int64(n[5]) * int64(pageSize),
	}, nil
}

// statWant are the fields of /proc/PID/stat that Stats is made of: utime
// (14), stime (15), num_threads (20), starttime (22), vsize (23), rss (24).
var statWant = [6]int{14, 15, 20, 22, 23, 24}

// statFields returns the fields statWant of data, the text of dir/stat. A
// process that has exited and waits to be reaped (state Z or X, field 3)
// is an error that matches os.ErrNotExist.
func statFields(dir string, data []byte) (n [len(statWant)]uint64, err error) {
	data = bytes.TrimRight(data, "\n")
	// Field 2, the command, is in parentheses and may itself hold spaces and
	// parentheses: the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return n, fmt.Errorf("parse %s/stat: no ')' after the command", dir)
	}
	rest, j := data[i+1:], 0 // j: the next of statWant
	for field := 3; j < len(statWant); field++ {
		var f []byte
		f, rest = cutField(rest)
		switch {
		case len(f) == 0:
			return n, fmt.Errorf("parse %s/stat: %d fields, want at least 24", dir, field-1)
		case field == 3 && (f[0] == 'Z' || f[0] == 'X'):
			return n, notExist("process has exited and is not yet reaped")
		case field == statWant[j]:
			if n[j], err = parseUint(f); err != nil {
				return n, fmt.Errorf("parse %s/stat field %d: %w", dir, field, err)
			}
			j++
		}
	}
	return n, nil
}

// cutField cuts the first field, delimited by spaces, off b.
func cutField(b []byte) (field, rest []byte) {
	b = bytes.TrimLeft(b, " ")
	end := bytes.IndexByte(b, ' ')
	if end < 0 {
		end = len(b)
	}
	return b[:end], b[end:]
}

var pageSize = os.Getpagesize()

// readSmall reads the file at path with open(2), read(2) and close(2). A
// file of /proc is produced whole by the first read, so one is enough; the
// caller takes a read that fills buf for a file too long for it.
func readSmall(path string, buf []byte) (int, error) {
	fd, err := openRetry(path)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	for {
		n, err := syscall.Read(fd, buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, &os.PathError{Op: "read", Path: path, Err: err}
		}
		return n, nil
	}
}

func openRetry(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// parseUint parses a decimal number without allocating. Its errors quote
// a copy of b, so that b does not escape: readStat's buffer then stays on
// the stack.
func parseUint(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 20 {
		return 0, fmt.Errorf("bad number %q", string(b))
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad number %q", string(b))
		}
		n = n*10 + uint64(c-'0')
	}
	return n, nil
}

// countFDs counts the open descriptors of the process whose fd folder is
// dir. Since Linux 6.2, the size that stat(2) gives the folder is that
// count, so no listing is needed; before, it is 0, and so is it for a
// process with no descriptor: then countFDs lists the folder.
func countFDs(dir string) (int, error) {
	var st syscall.Stat_t
	for {
		err := syscall.Stat(dir, &st)
		if err == nil {
			break
		}
		if err != syscall.EINTR {
			return 0, vanished(&os.PathError{Op: "stat", Path: dir, Err: err})
		}
	}
	if st.Size > 0 {
		return int(st.Size), nil
	}
	return listFDs(dir)
}

// listFDs counts the entries of dir, a /proc/PID/fd folder.
func listFDs(dir string) (int, error) {
	d, err := os.Open(dir)
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
