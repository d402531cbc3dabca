// Package logs owns each instance's log: where its lines go (a file per
// port, rotated by size, and optionally a console or the systemd journal),
// how they get there, and how they are read back (Tail, Follower).
//
// An instance writes its stdout and stderr into one pipe, whose read end
// the manager gives to the port's Log (Take). Into a file, the bytes move
// with splice(2), from the pipe to the file in the kernel, never through
// the manager's memory, on a goroutine parked in Go's poller while the
// pipe is empty. The size is checked before each move: a move that would
// take the file past its maximum renames it aside first, and a new file
// is opened, so no line is lost to rotation and no file exceeds its
// maximum by more than one write of the instance. Lines also wanted on a
// console or in the journal are duplicated with tee(2) into a second pipe
// that a goroutine reads and splits into lines.
package logs

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// File is the path of port's current log file under dir. Files renamed
// aside by rotation sit beside it as <port>-<UTC time>.log.
func File(dir string, port int) string {
	return filepath.Join(dir, strconv.Itoa(port)+".log")
}

// stampFormat is the UTC time in a rotated file's name, which sorts oldest
// first: 8001-2024-05-01T10-00-00.000.log.
const stampFormat = "2006-01-02T15-04-05.000"

// Backups returns the files rotation renamed aside for port under dir,
// oldest first. A file whose name does not carry a time stamp is someone
// else's and is left out.
func Backups(dir string, port int) ([]string, error) {
	prefix := strconv.Itoa(port) + "-"
	matches, err := filepath.Glob(filepath.Join(dir, prefix+"*.log"))
	if err != nil {
		return nil, fmt.Errorf("old logs of port %d: %w", port, err)
	}
	var out []string
	for _, m := range matches {
		stamp := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), prefix), ".log")
		if _, err := time.Parse(stampFormat, stamp); err == nil {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Options say where one port's lines go.
type Options struct {
	Dir      string // the folder of the files
	MaxSize  int64  // a file is renamed aside before a write would take it past this; 0: never
	MaxFiles int    // renamed-aside files kept; the oldest beyond are deleted
	// NoFile: no file at all, the lines go to Sinks only (logs.to: journal).
	NoFile bool
	// Sinks receive every line besides the file: a Console, a Journal.
	Sinks []Sink
	// OpenFile opens the files; nil: os.OpenFile without following a
	// symbolic link, and only a regular file. The manager passes one that
	// also checks the folder (manager/trust.go).
	OpenFile func(path string, flag int, perm os.FileMode) (*os.File, error)
	// Log receives the warnings (a log that cannot be written); nil: none.
	Log *slog.Logger
}

// A Sink receives whole lines, without their newline, at most MaxLine
// bytes each (a longer line arrives in pieces), from the port's instance
// with that pid. Calls for one process come from one goroutine. An
// error counts the line as dropped when the log has no file.
type Sink interface {
	Line(port, pid int, line []byte) error
}

// MaxLine bounds a line given to a Sink or kept in memory (journald's
// LineMax): a process that never ends its line costs bounded memory.
const MaxLine = 48 << 10

// Log is one port's log. It outlives the port's processes: each one's
// pipe is handed to Take, and the same file goes on.
type Log struct {
	port int
	opts Options
	path string
	log  *slog.Logger

	dropped atomic.Uint64 // lines lost to a failing file or journal
	last    *ring         // the last lines, when there is no file to read them from

	mu            sync.Mutex // the file and what goes with it; held for each move
	file          *os.File   // nil while it cannot be opened
	fd            int        // file's descriptor
	size          int64      // where the next byte goes in file
	failing       error      // why the file cannot be written, while it cannot
	lost          uint64     // lines dropped in the current failure
	sinkErr       error      // why the last line a sink refused was refused
	checked       time.Time  // when the file was last checked to still be in place
	noRotateUntil time.Time  // after a rotation failed
	closed        bool
	discardBuf    []byte // for discard: a pipe whose bytes cannot be written
}

// Open opens port's log: its current file, created now (mode 0644) so
// that a file that cannot be written is an error at start rather than
// lines lost later. With NoFile it touches nothing on disk.
func Open(port int, o Options) (*Log, error) {
	l := &Log{port: port, opts: o, path: File(o.Dir, port), log: o.Log}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if o.OpenFile == nil {
		l.opts.OpenFile = openNoFollow
	}
	if o.NoFile {
		l.last = newRing(tailLines)
		return l, nil
	}
	f, size, err := l.openFile(false)
	if err != nil {
		return nil, fmt.Errorf("open log of port %d: %w", port, err)
	}
	l.setFile(f, size)
	l.checked = time.Now()
	return l, nil
}

// Memory returns a log that keeps only the last lines, in memory: what an
// instance without a log file shows when it fails.
func Memory() *Log {
	l, _ := Open(0, Options{NoFile: true})
	return l
}

// tailLines is how many lines Last keeps in memory.
const tailLines = 20

// openFile opens the current file for writing at its end. It is never
// opened O_APPEND (splice(2) refuses such a file): the Log is the file's
// only writer and tracks the offset. excl: the file must be new.
func (l *Log) openFile(excl bool) (*os.File, int64, error) {
	flag := os.O_WRONLY | os.O_CREATE
	if excl {
		flag |= os.O_EXCL
	}
	f, err := l.opts.OpenFile(l.path, flag, 0o644)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// openNoFollow is os.OpenFile that refuses a symbolic link (O_NOFOLLOW)
// and anything but a regular file.
func openNoFollow(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: is not a regular file", path)
	}
	return f, nil
}

// Dropped returns how many lines of this port were lost so far because
// the file (a full disk, a removed folder) or the journal could not take
// them. It only grows; it is safe to call from any goroutine.
func (l *Log) Dropped() uint64 {
	if l == nil {
		return 0 // no log, nothing lost
	}
	return l.dropped.Load()
}

// Last returns the last n lines (n at most 20 without a file), read from
// the end of the files when there are files, else kept in memory: what a
// failed start shows.
func (l *Log) Last(n int) string {
	if l.last != nil {
		return l.last.String(n)
	}
	lines, _ := Tail(l.opts.Dir, l.port, n)
	return strings.Join(lines, "\n")
}

// Close closes the file; the caller stops the processes first. Lines
// that arrive later are dropped, never written into a new file. It is
// safe to call more than once.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.file == nil {
		return nil
	}
	return l.file.Close()
}
