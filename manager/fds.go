package manager

// Descriptors handed from one program to the next.

import (
	"fmt"
	"net"
	"os"

	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/internal/fds"
	"github.com/hellomgr/hellomgr/internal/heldsig"
)

// dupFD copies a descriptor handed over, close-on-exec.
func dupFD(fd int) (int, error) {
	n, err := fds.Dup(fd)
	if err != nil {
		return -1, fmt.Errorf("descriptor %d handed over: %w", fd, err)
	}
	return n, nil
}

// dupFile wraps a copy of fd. A socket handed over stays non-blocking,
// and Fd on the file leaves it so (os.NewFile marks only the files it
// made non-blocking itself as ones to make blocking again).
func dupFile(fd int, name string) (*os.File, error) {
	n, err := dupFD(fd)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(n), name), nil
}

func fileListener(fd int) (net.Listener, error) {
	f, err := dupFile(fd, "listener")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FileListener(f)
}

// execKeeping replaces the program with path, passing it the descriptors
// keep; the manager's signals are ignored meanwhile, so that none ends
// the new program before it listens (package heldsig). It returns only
// if the exec failed, listening again.
func execKeeping(path string, argv []string, keep []int) error {
	heldsig.BeforeExec()
	err := instance.ExecKeeping(path, argv, os.Environ(), keep)
	heldsig.AfterFailedExec()
	return err
}
