package logs

import (
	"os"

	"golang.org/x/sys/unix"
)

// dirWatch tells Follow that a file in the logs' folder was written,
// created or renamed into it (inotify), so that a line shows as soon as
// the manager has moved it into its file, rather than at the next poll.
// Follow still polls, slowly, where inotify is not to be had.
type dirWatch struct {
	f    *os.File // the inotify descriptor
	wake chan struct{}
}

// watchDir watches dir; nil when inotify cannot (then only polling).
func watchDir(dir string) *dirWatch {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		return nil
	}
	w := &dirWatch{f: os.NewFile(uintptr(fd), "inotify"), wake: make(chan struct{}, 1)}
	go w.read()
	return w
}

// read turns the events into wakes, at most one pending, until closed.
func (w *dirWatch) read() {
	buf := make([]byte, 16<<10)
	for {
		if _, err := w.f.Read(buf); err != nil {
			return
		}
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// C receives after a write in the folder (one wake for many). A nil
// watch's C is nil: it never receives.
func (w *dirWatch) C() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.wake
}

// close stops the watch; safe on nil.
func (w *dirWatch) close() {
	if w != nil {
		w.f.Close()
	}
}
