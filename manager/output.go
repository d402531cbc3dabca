package manager

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/logs"
)

// openLog opens the log of one port (logs.Open): its file is created now,
// so that a file that cannot be written is an error at start rather than
// lines lost later. Every file it opens, at start and at each rotation, is
// opened by openOwned: only in a log folder checkFolder accepts, never
// through a symbolic link.
func openLog(cfg config.Logs, port int, sinks []logs.Sink, log *slog.Logger) (*logs.Log, error) {
	return logs.Open(port, logs.Options{
		Dir:      cfg.Dir,
		MaxSize:  int64(cfg.MaxSizeMB) << 20,
		MaxFiles: cfg.MaxFiles,
		NoFile:   cfg.Journal(),
		Sinks:    sinks,
		OpenFile: func(path string, flag int, perm os.FileMode) (*os.File, error) {
			return openOwned(logFolder, path, flag, perm)
		},
		Log: log,
	})
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

// logSinks says where the instances' lines go besides their files: to
// systemd's journal when logs.to is journal or when the console is the
// journal's stream (JOURNAL_STREAM), each line an entry with the port and
// pid as fields; else to the console, if any, each line prefixed with its
// port. The journal is connected to now, so that a missing one is an
// error at start.
func (m *Manager) logSinks(cfg *config.Config) ([]logs.Sink, error) {
	var sinks []logs.Sink
	toJournal := logs.IsJournal(m.opts.Console)
	if cfg.Logs.Journal() || toJournal {
		j, err := logs.DialJournal(logs.JournalSocket())
		if err != nil && toJournal {
			return nil, fmt.Errorf("stdout is the journal (JOURNAL_STREAM), so the instances' lines go to it: %w", err)
		}
		if err != nil {
			return nil, fmt.Errorf("logs.to: journal: %w", err)
		}
		m.journal = j
		sinks = append(sinks, j)
	}
	if m.opts.Console != nil && !toJournal {
		sinks = append(sinks, logs.NewConsole(m.opts.Console))
	}
	return sinks, nil
}
