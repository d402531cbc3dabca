package logs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// splice moves up to n bytes from the pipe fd into the file at its end.
// When the file cannot take them (a full disk), they are read and
// dropped instead (discard), so the instance never blocks on its output.
// Call with l.mu held.
func (l *Log) splice(fd int, n int64) (int64, error) {
	for {
		off := l.size
		moved, err := unix.Splice(fd, nil, l.fd, &off, int(n), unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
		switch {
		case err == nil:
			if moved > 0 && l.failing != nil {
				l.recovered()
			}
			l.size = off
			return moved, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return 0, err
		}
		l.fail(err)
		return l.discard(fd)
	}
}

// discard reads what the pipe holds and drops it, counting its lines.
// Call with l.mu held.
func (l *Log) discard(fd int) (int64, error) {
	if l.discardBuf == nil {
		l.discardBuf = make([]byte, 64<<10)
	}
	for {
		n, err := unix.Read(fd, l.discardBuf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		lines := uint64(bytes.Count(l.discardBuf[:n], []byte{'\n'}))
		l.dropped.Add(lines)
		l.lost += lines
		return int64(n), nil
	}
}

// fail notes that the file cannot be written: one warning per port for
// the whole failure, with the count of lines lost when it ends.
func (l *Log) fail(err error) {
	if l.failing == nil && !l.closed {
		l.log.Warn("cannot write instance output to its log; its lines are dropped (and counted) until it can", "port", l.port, "file", l.path, "err", err)
	}
	l.failing = err
}

// recovered notes that the file takes lines again.
func (l *Log) recovered() {
	l.log.Info("instance output reaches its log again", "port", l.port, "file", l.path, "dropped_lines", l.lost)
	l.failing, l.lost = nil, 0
}

// checkEvery is how often the file is checked to still be in place (a
// variable for tests).
var checkEvery = time.Second

// check, at most every checkEvery, makes sure the file written is still
// the one at its path: one deleted (its folder removed, say) is opened
// again, and while that fails the lines are dropped. Call with l.mu held.
func (l *Log) check() {
	now := time.Now()
	if now.Sub(l.checked) < checkEvery {
		return
	}
	l.checked = now
	if l.file != nil {
		var st unix.Stat_t
		if unix.Fstat(l.fd, &st) != nil || st.Nlink > 0 {
			return
		}
		l.file.Close()
		l.file = nil
	}
	f, size, err := l.openFile(false)
	if err != nil {
		l.fail(err)
		return
	}
	l.setFile(f, size)
}

func (l *Log) setFile(f *os.File, size int64) {
	l.file, l.size = f, size
	l.fd = -1
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { l.fd = int(fd) })
	}
}

// rotate renames the file aside as <port>-<UTC time>.log, starts a new
// one, and deletes the oldest renamed-aside files beyond MaxFiles. When
// the new file cannot be created the old one is put back and goes on
// growing; rotation is tried again a second later. Nothing is truncated,
// and nothing is followed through a symbolic link. Call with l.mu held.
func (l *Log) rotate() {
	now := time.Now()
	if now.Before(l.noRotateUntil) {
		return
	}
	aside, err := l.renameAside(now)
	if err == nil {
		var f *os.File
		var size int64
		if f, size, err = l.openFile(true); err == nil {
			l.file.Close()
			l.setFile(f, size)
			l.prune()
			return
		}
		unix.Renameat2(unix.AT_FDCWD, aside, unix.AT_FDCWD, l.path, unix.RENAME_NOREPLACE)
	}
	l.noRotateUntil = now.Add(checkEvery)
	l.log.Warn("cannot rotate instance log; it grows past logs.max_size until it can", "port", l.port, "file", l.path, "err", err)
}

// renameAside renames the current file to its rotated name, never over
// another file: two rotations within a millisecond get the next one.
func (l *Log) renameAside(now time.Time) (string, error) {
	prefix := filepath.Join(l.opts.Dir, strconv.Itoa(l.port)+"-")
	t := now.UTC()
	for range 1000 {
		aside := prefix + t.Format(stampFormat) + ".log"
		err := unix.Renameat2(unix.AT_FDCWD, l.path, unix.AT_FDCWD, aside, unix.RENAME_NOREPLACE)
		if !errors.Is(err, unix.EEXIST) {
			return aside, err
		}
		t = t.Add(time.Millisecond)
	}
	return "", unix.EEXIST
}

// prune deletes the oldest renamed-aside files beyond MaxFiles; only
// regular files.
func (l *Log) prune() {
	old, err := Backups(l.opts.Dir, l.port)
	if err != nil {
		return
	}
	for len(old) > l.opts.MaxFiles {
		if fi, err := os.Lstat(old[0]); err == nil && fi.Mode().IsRegular() {
			os.Remove(old[0])
		}
		old = old[1:]
	}
}
