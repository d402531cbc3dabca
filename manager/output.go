package manager

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/hellomgr/hellomgr/config"
)

// LogFile is the path of port's current log file under dir. Files
// renamed aside by rotation sit beside it as <port>-<UTC time>.log.
func LogFile(dir string, port int) string {
	return filepath.Join(dir, strconv.Itoa(port)+".log")
}

// backupTime is how lumberjack stamps the files it renames aside
// (<port>-<time>.log, in UTC), which sorts oldest first.
const backupTime = "2006-01-02T15-04-05.000"

// LogBackups returns the files rotation renamed aside for port under dir,
// oldest first. A file whose name does not carry lumberjack's time stamp
// is someone else's and is left out.
func LogBackups(dir string, port int) ([]string, error) {
	prefix := strconv.Itoa(port) + "-"
	matches, err := filepath.Glob(filepath.Join(dir, prefix+"*.log"))
	if err != nil {
		return nil, fmt.Errorf("old logs of port %d: %w", port, err)
	}
	var out []string
	for _, m := range matches {
		stamp := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), prefix), ".log")
		if _, err := time.Parse(backupTime, stamp); err == nil {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out, nil
}

// logWriter is one port's log file. lumberjack appends to it and, when a
// write would take it past logs.max_size, renames it aside and starts a
// new one, deleting the oldest beyond logs.max_files.
//
// Write never fails: its caller copies an instance's stdout and stderr,
// and a failed write there would stop the copy and leave the instance
// writing into a pipe nobody reads, so a full disk would hang or kill it.
// The first failure is logged instead, and the output is lost until
// writing works again. Writes after Close are dropped, so a late line
// cannot create the file again.
type logWriter struct {
	port int
	log  *slog.Logger

	mu      sync.Mutex
	file    *lumberjack.Logger
	closed  bool
	failing bool
}

// openLog opens the log of one port. It creates the file now, with mode
// 0644, so that a file that cannot be written is an error at start rather
// than output lost later (lumberjack opens lazily, and gives the files it
// rotates to the mode of the one before). A symbolic link in its place is
// refused (openOwned). lumberjack itself later opens, renames and removes
// by name: what keeps a link out then is the log folder, which only its
// owner (this user or root) can write (checkLogDir).
func openLog(cfg config.Logs, port int, log *slog.Logger) (io.WriteCloser, error) {
	path := LogFile(cfg.Dir, port)
	f, err := openOwned(logFolder, path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of port %d: %w", port, err)
	}
	f.Close()
	return &logWriter{
		port: port,
		log:  log,
		file: &lumberjack.Logger{Filename: path, MaxSize: cfg.MaxSizeMB, MaxBackups: cfg.MaxFiles},
	}, nil
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return len(p), nil
	}
	_, err := w.file.Write(p)
	switch {
	case err != nil && !w.failing:
		w.log.Warn("cannot write instance output to its log; output is lost until it can", "port", w.port, "err", err)
	case err == nil && w.failing:
		w.log.Info("instance output reaches its log again", "port", w.port)
	}
	w.failing = err != nil
	return len(p), nil
}

// Close closes the file. It is safe to call more than once.
func (w *logWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	return w.file.Close()
}

// checkLogDir creates the log folder and proves it writable, so `up`
// refuses to start rather than running instances whose output is lost. A
// folder that another user could write in, or a link, is refused
// (checkFolder), as `hellomgr check` says.
func checkLogDir(dir string) error {
	if err := makeFolder(dir, logFolder, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("log folder %s is not writable: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// console serialises whole lines from every instance onto one writer,
// each prefixed with its port, as `hellomgr up` shows them in the
// foreground.
type console struct {
	mu  sync.Mutex
	out io.Writer
}

// writer returns a line-buffered writer that prefixes each line with port.
func (c *console) writer(port int) io.Writer {
	return &prefixWriter{c: c, prefix: []byte(fmt.Sprintf("%d | ", port))}
}

type prefixWriter struct {
	c      *console
	prefix []byte
	mu     sync.Mutex
	part   []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	data := append(w.part, p...)
	var buf bytes.Buffer
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		buf.Write(w.prefix)
		buf.Write(data[:i+1])
		data = data[i+1:]
	}
	w.part = append(w.part[:0], data...)
	if buf.Len() > 0 {
		w.c.mu.Lock()
		w.c.out.Write(buf.Bytes())
		w.c.mu.Unlock()
	}
	return len(p), nil
}
