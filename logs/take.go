package logs

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/internal/fds"
	"golang.org/x/sys/unix"
)

// batchWait is how long a pump waits, at most, after a move before the next
// one: a process logging a line per request then costs the manager a
// wakeup per batchWait, not one per line, while the pipe holds what arrives
// meanwhile. The faster the pipe fills, the shorter the wait (pause), so
// that a process writing fast does not find it full. The first line
// after a quiet spell moves at once.
var batchWait = 50 * time.Millisecond

// pacer chooses the pump's pauses from the rate the pipe fills at.
type pacer struct {
	rate float64 // bytes a second, as estimated so far
}

// pause is the wait after moving moved bytes, which arrived in since,
// out of a pipe of capacity bytes: the time the pipe takes to fill to
// half at the estimated rate, at most batchWait; none after half a pipe or
// more. A pipe found that full may have held its writer back, so the
// rate is then taken as twice what was seen; a slower round halves it at
// most, since a writer just let go takes a moment to write again.
func (p *pacer) pause(moved int64, since time.Duration, capacity int64) time.Duration {
	half := capacity / 2
	seen := float64(moved) / max(since, time.Microsecond).Seconds()
	if moved >= half {
		p.rate = max(2*seen, p.rate)
		return 0
	}
	p.rate = max(seen, p.rate/2)
	if p.rate <= 0 {
		return batchWait
	}
	return min(batchWait, time.Duration(float64(half)/p.rate*float64(time.Second)))
}

// Take moves what the process pid writes into r, the read end of its
// stdout and stderr pipe, into the log (its file, or its sinks) until
// the pipe reaches end of file (every writer closed it). It owns r from
// then on, and returns at once: done is closed once nothing more will be
// read; abandon gives up sooner (a process that left something holding
// the pipe open), and is safe to call more than once. Several pipes may
// be taken at the same time (a new process started beside the old one):
// their bytes go into the same file, a move at a time.
func (l *Log) Take(r *os.File, pid int) (done <-chan struct{}, abandon func()) {
	ch, stop := make(chan struct{}), make(chan struct{})
	var once sync.Once
	abandon = func() { once.Do(func() { close(stop) }) }
	fd, err := ownFD(r)
	if err != nil {
		l.log.Warn("cannot read instance output", "port", l.port, "err", err)
		close(ch)
		return ch, abandon
	}
	if l.last != nil {
		l.last.reset() // Last shows the current process
	}
	var e *echo
	if len(l.opts.Sinks) > 0 && !l.opts.NoFile {
		e = l.startEcho(pid)
	}
	go func() {
		defer close(ch)
		l.takePipe(fd, pid, stop, e)
	}()
	return ch, abandon
}

// takePipe moves what the pipe fd holds into the log (see Take) until
// end of file or stop, then closes fd and the echo.
func (l *Log) takePipe(fd, pid int, stop <-chan struct{}, e *echo) {
	defer unix.Close(fd)
	if e != nil {
		defer e.close()
	}
	capacity := int64(64 << 10)
	if n, err := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0); err == nil && n > 0 {
		capacity = int64(n)
	}
	if l.opts.NoFile {
		var s splitter
		buf := make([]byte, 64<<10)
		l.pump(fd, stop, capacity, func() (int64, error) { return l.readOnce(fd, pid, &s, buf) })
		s.flush(func(line []byte) { l.line(pid, line) })
		return
	}
	l.pump(fd, stop, capacity, func() (int64, error) { return l.moveWhenRoom(fd, capacity, e) })
}

// ownFD takes r's descriptor out of Go's poller (see poller): it returns
// a duplicate, non-blocking, and closes r.
func ownFD(r *os.File) (int, error) {
	defer r.Close()
	fd, err := fds.DupOf(r)
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// pump calls step, which empties the pipe fd, until end of file or
// stop. After a step that moved bytes it pauses (pause) and steps
// again; after one that found the pipe empty it waits, parked, for the
// next bytes.
func (l *Log) pump(fd int, stop <-chan struct{}, capacity int64, step func() (int64, error)) {
	p, err := getPoller()
	if err != nil {
		l.log.Warn("cannot read instance output", "port", l.port, "err", err)
		return
	}
	w := p.watch(fd)
	defer p.unwatch(w)
	var t sleeper
	var pace pacer
	last := time.Now()
	for {
		now := time.Now()
		since := now.Sub(last)
		last = now
		moved, eof := stepUntilEmpty(step)
		if eof {
			return
		}
		goOn := true
		switch d := pace.pause(moved, since, capacity); {
		case moved == 0:
			goOn = l.waitBytes(p, w, stop)
		case d > 0 && !l.memoryOnly():
			goOn = t.sleep(d, stop)
		}
		if !goOn {
			return
		}
	}
}

// stepUntilEmpty calls step until the pipe is empty (EAGAIN), and returns
// the bytes it moved; eof when it met end of file (or failed) instead.
func stepUntilEmpty(step func() (int64, error)) (moved int64, eof bool) {
	for {
		n, err := step()
		moved += n
		if errors.Is(err, unix.EAGAIN) {
			return moved, false
		}
		if err != nil || n == 0 {
			return moved, true
		}
	}
}

// waitBytes waits, parked in the poller, until the pipe of w has bytes
// (or end of file); false on stop, or when the poller fails.
func (l *Log) waitBytes(p *poller, w *watched, stop <-chan struct{}) bool {
	wake, err := p.wait(w)
	if err != nil {
		l.log.Warn("cannot read instance output", "port", l.port, "err", err)
		return false
	}
	select {
	case <-wake:
		return true
	case <-stop:
		return false
	}
}

// sleeper is a pump's pause, with one timer reused from pause to pause.
type sleeper struct{ timer *time.Timer }

// sleep waits d; false when stop comes first.
func (s *sleeper) sleep(d time.Duration, stop <-chan struct{}) bool {
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	select {
	case <-s.timer.C:
		return true
	case <-stop:
		return false
	}
}

// memoryOnly: the lines are only kept in memory (Memory), for a failed
// start to show: they are read at once, never batched.
func (l *Log) memoryOnly() bool { return l.opts.NoFile && len(l.opts.Sinks) == 0 }

// readOnce reads what the pipe holds into the sinks, in lines (NoFile).
func (l *Log) readOnce(fd, pid int, s *splitter, buf []byte) (int64, error) {
	n, err := unix.Read(fd, buf)
	for errors.Is(err, unix.EINTR) {
		n, err = unix.Read(fd, buf)
	}
	if err != nil {
		return 0, err
	}
	s.write(buf[:n], func(line []byte) { l.line(pid, line) })
	return int64(n), nil
}

// moveWhenRoom is move, waiting for room in the echo's pipe as long as
// it has none.
func (l *Log) moveWhenRoom(fd int, capacity int64, e *echo) (int64, error) {
	for {
		n, err := l.move(fd, capacity, e)
		if err != errEchoFull {
			return n, err
		}
		e.waitRoom()
	}
}

// move moves what the pipe holds into the file: one splice(2), preceded
// by a tee(2) into the echo's pipe when there is one. It returns how
// many bytes left the pipe, 0 at end of file, or EAGAIN when it is empty.
func (l *Log) move(fd int, capacity int64, e *echo) (int64, error) {
	want := capacity
	if e != nil {
		n, err := e.tee(fd, capacity)
		if err != nil || n == 0 {
			return 0, err
		}
		want = n
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return l.discard(fd)
	}
	l.check()
	if l.file == nil {
		return l.discard(fd)
	}
	return l.splice(fd, l.rotateFor(fd, want, e != nil))
}

// rotateFor rotates the file when the bytes to move would take it past
// MaxSize, and returns how many to move. want is exact after a tee;
// else it is the pipe's capacity, and the pipe is asked how much it
// holds. l.mu is held.
func (l *Log) rotateFor(fd int, want int64, exact bool) int64 {
	if l.opts.MaxSize <= 0 || l.size == 0 || l.size+want <= l.opts.MaxSize {
		return want
	}
	if !exact {
		avail, err := unix.IoctlGetInt(fd, unix.TIOCINQ)
		if err != nil || avail == 0 {
			return want // the splice finds EAGAIN, or end of file
		}
		want = int64(avail)
	}
	if l.size+want > l.opts.MaxSize {
		l.rotate()
	}
	return want
}

// tee copies what the pipe fd holds into the echo's pipe, leaving it in
// fd: how many bytes, 0 at end of file. When fd is empty it returns
// EAGAIN; when the echo is full, errEchoFull: then the file waits for the
// echo, as a console written directly would. On any other error it
// returns capacity, so that the file gets the bytes all the same.
func (e *echo) tee(fd int, capacity int64) (int64, error) {
	n, err := unix.Tee(fd, e.fd, int(capacity), unix.SPLICE_F_NONBLOCK)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, unix.EAGAIN):
		if avail, err := unix.IoctlGetInt(fd, unix.TIOCINQ); err == nil && avail > 0 {
			return 0, errEchoFull
		}
		return 0, unix.EAGAIN
	}
	return capacity, nil
}

// echo is the second pipe that tee(2) fills for the sinks.
type echo struct {
	w  *os.File
	rc syscall.RawConn
	fd int
}

// errEchoFull: the echo's pipe has no room; its reader is behind.
var errEchoFull = errors.New("echo full")

// waitRoom waits, parked in the poller, until the echo's pipe has room.
func (e *echo) waitRoom() {
	e.rc.Write(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(fds, 0)
		return n != 0 || (err != nil && !errors.Is(err, unix.EINTR))
	})
}

// startEcho makes the echo pipe and starts the goroutine that reads it
// into the sinks. nil when no pipe can be made: then the file alone gets
// the lines.
func (l *Log) startEcho(pid int) *echo {
	r, w, err := os.Pipe()
	if err != nil {
		return nil
	}
	rc, err := w.SyscallConn()
	if err != nil {
		r.Close()
		w.Close()
		return nil
	}
	e := &echo{w: w, rc: rc}
	rc.Control(func(fd uintptr) { e.fd = int(fd) })
	go func() {
		defer r.Close()
		l.readLines(r, pid)
	}()
	return e
}

// close ends the echo: its reader gets end of file.
func (e *echo) close() { e.w.Close() }

// readLines reads the echo's pipe r, cut into lines, into the sinks
// until end of file, pausing after each read (pause).
func (l *Log) readLines(r *os.File, pid int) {
	buf := make([]byte, 64<<10)
	var s splitter
	var pace pacer
	emit := func(line []byte) { l.line(pid, line) }
	last := time.Now()
	for {
		n, err := r.Read(buf)
		s.write(buf[:n], emit)
		if err != nil {
			s.flush(emit)
			return
		}
		now := time.Now()
		if d := pace.pause(int64(n), now.Sub(last), int64(len(buf))); d > 0 {
			time.Sleep(d)
		}
		last = now
	}
}

// line gives one line to the sinks, and keeps it when there is no file.
func (l *Log) line(pid int, line []byte) {
	if l.last != nil {
		l.last.add(line)
	}
	for _, s := range l.opts.Sinks {
		err := s.Line(l.port, pid, line)
		if !l.opts.NoFile {
			continue
		}
		l.mu.Lock()
		switch {
		case err != nil && l.sinkErr == nil:
			l.log.Warn("cannot send instance output to the journal; its lines are dropped (and counted) until it can", "port", l.port, "err", err)
		case err == nil && l.sinkErr != nil:
			l.log.Info("instance output reaches the journal again", "port", l.port, "dropped_lines", l.lost)
			l.lost = 0
		}
		if err != nil {
			l.dropped.Add(1)
			l.lost++
		}
		l.sinkErr = err
		l.mu.Unlock()
	}
}
