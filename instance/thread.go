package instance

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// The spawn thread. Every instance gets Pdeathsig=SIGKILL, which the
// kernel sends when the OS thread that forked it ends, and execve(2) ends
// every thread of the process but the one that calls it. So that the
// manager can replace its own program (hellomgr upgrade) without killing
// its instances, one thread forks them all and is the one that execs: it
// survives the exec as the new program's main thread, and the new program
// must fork and exec from that thread in turn. The spawn thread is
// therefore the main thread: init locks the main goroutine to it, and
// ServeSpawns, called on the main goroutine, serves the forks there.
// exec_test.go checks the kernel's side of this.

func init() { runtime.LockOSThread() } // the main goroutine stays on the main thread: see ServeSpawns

var (
	mainRequests = make(chan func()) // served by ServeSpawns, on the main thread
	mainServing  atomic.Bool         // while ServeSpawns serves
	ownRequests  = make(chan func()) // served by the fallback thread
	fallback     sync.Once
)

// ServeSpawns runs fn on a goroutine of its own and, until fn returns,
// forks every instance (and runs ExecKeeping) on the calling goroutine.
// Call it from the main goroutine, where it makes the main thread the
// spawn thread; called from any other goroutine (a test), or not at all,
// the forks run on a thread of their own that never ends, and an exec
// still keeps the instances alive once, but the program it starts must
// call ServeSpawns from its main goroutine. It returns what fn returns.
func ServeSpawns(fn func() error) error {
	if unix.Gettid() != os.Getpid() || !mainServing.CompareAndSwap(false, true) {
		return fn()
	}
	defer mainServing.Store(false)
	done := make(chan error, 1)
	go func() { done <- fn() }()
	for {
		select {
		case req := <-mainRequests:
			req()
		case err := <-done:
			return err
		}
	}
}

// onSpawnThread runs fn on the spawn thread and returns once it has.
func onSpawnThread(fn func()) {
	done := make(chan struct{})
	req := func() {
		defer close(done)
		fn()
	}
	if mainServing.Load() {
		mainRequests <- req
	} else {
		fallback.Do(func() {
			// Locked, and never returning, so that its thread never ends.
			go func() {
				runtime.LockOSThread()
				for req := range ownRequests {
					req()
				}
			}()
		})
		ownRequests <- req
	}
	<-done
}

// ExecKeeping replaces the program with path (execve(2), the same pid),
// from the spawn thread, so that every instance stays alive and remains a
// child of this process. The descriptors in keep are inherited by the new
// program: their close-on-exec flag is cleared just before, under
// syscall.ForkLock so that no other fork inherits them, and set again if
// the exec fails. It returns only when the exec failed.
func ExecKeeping(path string, argv, env []string, keep []int) error {
	var err error
	onSpawnThread(func() {
		syscall.ForkLock.Lock()
		defer syscall.ForkLock.Unlock()
		for _, fd := range keep {
			if _, e := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); e != nil {
				err = fmt.Errorf("pass descriptor %d: %w", fd, e)
				break
			}
		}
		if err == nil {
			err = syscall.Exec(path, argv, env)
		}
		for _, fd := range keep {
			syscall.CloseOnExec(fd)
		}
	})
	return fmt.Errorf("exec %s: %w", path, err)
}
