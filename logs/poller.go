package logs

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// The pipes are watched by an epoll instance of this package rather than
// by Go's own poller: Go's keeps every descriptor registered, so each
// write of every instance would wake one of the manager's threads, even
// while the pipe's pump pauses on purpose (batchWait). Here a pipe is armed
// once (EPOLLONESHOT) only when its pump has found it empty and waits;
// while a pump moves and pauses, the instance's writes wake nothing. The
// epoll descriptor itself sits in Go's poller, so the one goroutine that
// dispatches its events (dispatch) parks there without holding a thread.
type poller struct {
	ep   int
	file *os.File // ep, in Go's poller

	mu      sync.Mutex
	next    int32                   // the last token handed out
	waiting map[int32]chan struct{} // armed pipes, by token
}

var (
	thePoller *poller
	pollerErr error
	pollerOne sync.Once
)

// getPoller returns the package's poller, started on first use.
func getPoller() (*poller, error) {
	pollerOne.Do(func() {
		ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			pollerErr = fmt.Errorf("epoll: %w", err)
			return
		}
		unix.SetNonblock(ep, true)
		thePoller = &poller{ep: ep, file: os.NewFile(uintptr(ep), "epoll"), waiting: map[int32]chan struct{}{}}
		go thePoller.dispatch()
	})
	return thePoller, pollerErr
}

// watched is one pipe's read end as the poller knows it.
type watched struct {
	fd    int
	token int32
	added bool // in the epoll set
}

// watch returns fd's entry; nothing is registered until it waits.
func (p *poller) watch(fd int) *watched {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	return &watched{fd: fd, token: p.next}
}

// wait arms w and returns a channel closed once it is readable (bytes,
// or end of file): at once if it is already.
func (p *poller) wait(w *watched) (<-chan struct{}, error) {
	ch := make(chan struct{})
	p.mu.Lock()
	p.waiting[w.token] = ch
	p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: w.token}
	op := unix.EPOLL_CTL_MOD
	if !w.added {
		op = unix.EPOLL_CTL_ADD
	}
	if err := unix.EpollCtl(p.ep, op, w.fd, &ev); err != nil {
		p.forget(w.token)
		return nil, fmt.Errorf("arm pipe: %w", err)
	}
	w.added = true
	return ch, nil
}

// unwatch removes w before its descriptor is closed.
func (p *poller) unwatch(w *watched) {
	if w.added {
		unix.EpollCtl(p.ep, unix.EPOLL_CTL_DEL, w.fd, nil)
	}
	p.forget(w.token)
}

// forget drops a token whose pipe is no longer waited for.
func (p *poller) forget(token int32) {
	p.mu.Lock()
	delete(p.waiting, token)
	p.mu.Unlock()
}

// dispatch wakes the pumps whose pipes became readable, forever.
func (p *poller) dispatch() {
	rc, err := p.file.SyscallConn()
	if err != nil {
		return
	}
	events := make([]unix.EpollEvent, 64)
	for {
		rc.Read(func(fd uintptr) bool {
			n, err := unix.EpollWait(int(fd), events, 0)
			if n <= 0 || err != nil {
				return err != nil && !errors.Is(err, unix.EINTR) && !errors.Is(err, unix.EAGAIN)
			}
			p.mu.Lock()
			for _, ev := range events[:n] {
				if ch, ok := p.waiting[ev.Fd]; ok {
					delete(p.waiting, ev.Fd)
					close(ch)
				}
			}
			p.mu.Unlock()
			return true
		})
	}
}
