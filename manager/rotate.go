package manager

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hellomgr/hellomgr/config"
)

// rotateEvery is how often the log files instances write themselves are
// checked against logs.max_size: a stat per port, next to nothing.
const rotateEvery = 2 * time.Second

// openDirect opens the log file of one port for an instance to write
// straight into. O_APPEND is what makes rotation by truncation safe: after
// the file is cut to zero, the instance's next write lands at the new end,
// not at its old offset behind a hole.
func openDirect(cfg config.Logs, port int) (*os.File, error) {
	f, err := openOwned(logFolder, LogFile(cfg.Dir, port), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of port %d: %w", port, err)
	}
	return f, nil
}

// rotateLogs checks every port's log every rotateEvery until ctx ends.
func (m *Manager) rotateLogs(ctx context.Context) {
	tick := time.NewTicker(rotateEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cfg := m.Config()
		m.mu.Lock()
		ports := make([]int, 0, len(m.slots))
		for port := range m.slots {
			ports = append(ports, port)
		}
		m.mu.Unlock()
		for _, port := range ports {
			if err := rotate(cfg.Logs, port); err != nil {
				m.log.Warn("rotate log", "port", port, "err", err)
			}
		}
	}
}

// rotate copies a port's log aside as <port>-<UTC time>.log, the name
// lumberjack would give it, once it is past logs.max_size, truncates it,
// and removes the oldest copies beyond logs.max_files. The instance keeps
// its file open throughout; lines it writes between the copy and the
// truncation are lost (logrotate's copytruncate has the same window).
// Nothing is followed through a symbolic link: a link in the log's place
// is an error, and only regular files are removed.
func rotate(cfg config.Logs, port int) error {
	path := LogFile(cfg.Dir, port)
	fi, err := os.Lstat(path)
	if err != nil || (fi.Mode().IsRegular() && fi.Size() < int64(cfg.MaxSizeMB)<<20) {
		return nil
	}
	f, err := openOwned(logFolder, path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	stamp := time.Now().UTC().Format(backupTime)
	aside := filepath.Join(cfg.Dir, strconv.Itoa(port)+"-"+stamp+".log")
	if err := copyTo(aside, f); err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	old, err := LogBackups(cfg.Dir, port)
	if err != nil {
		return err
	}
	for len(old) > cfg.MaxFiles {
		if fi, err := os.Lstat(old[0]); err == nil && fi.Mode().IsRegular() {
			os.Remove(old[0])
		}
		old = old[1:]
	}
	return nil
}

// copyTo copies src into a new file named to; it never replaces or
// follows anything already there (O_EXCL).
func copyTo(to string, src io.Reader) error {
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
