// Package fds copies descriptors close-on-exec: the one way hellomgr
// duplicates a socket, pipe or lock file, so that no copy ever leaks into
// an instance (a leaked copy of a port's socket keeps the port open after
// the manager closes it).
package fds

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// Conner is an *os.File, or a net connection or listener.
type Conner interface {
	SyscallConn() (syscall.RawConn, error)
}

// Dup returns a close-on-exec copy of fd.
func Dup(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}

// DupOf returns a close-on-exec copy of c's descriptor. Unlike
// (*os.File).Fd, it leaves the descriptor's blocking mode as it is.
func DupOf(c Conner) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	cerr := rc.Control(func(raw uintptr) { fd, err = Dup(int(raw)) })
	if err = errors.Join(cerr, err); err != nil {
		return -1, err
	}
	return fd, nil
}
