package reqlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// SocketPath is where the manager of the config whose state folder is
// stateDir listens for nginx's lines. Not in stateDir itself: that folder
// is the manager's alone (0700), and nginx's workers run as another user
// (nobody, www-data), so the socket lives in a folder of its own under
// the temporary directory, named from stateDir so that two configs on
// one machine never share it, and short enough for a socket address.
func SocketPath(stateDir string) string {
	if abs, err := filepath.Abs(stateDir); err == nil {
		stateDir = abs
	}
	sum := sha256.Sum256([]byte(stateDir))
	return filepath.Join(os.TempDir(), "hellomgr-"+hex.EncodeToString(sum[:6]), "requests.sock")
}

// Listener reads nginx's datagrams from the request log socket.
//
// The socket is a plain blocking one, kept out of Go's network poller: the
// poller watches a socket edge-triggered and wakes for every datagram that
// arrives, whether or not a goroutine waits on it, which made a pause to
// gather datagrams useless (9.9 µs of CPU per datagram, arriving every
// 200 µs, with or without the pause; 1.2 µs without the poller).
type Listener struct {
	// OnBad, when set before Serve, is told of an unparsable datagram:
	// the first, then at most one a minute, with how many were since.
	OnBad func(dgram []byte, err error, since uint64)

	fd    int
	path  string
	bound os.FileInfo // the socket file as bound, to remove only that one
	qlen  int         // QueueLimit as the socket was made

	mu      sync.Mutex
	serving bool          // Serve owns fd and closes it
	closed  bool          // Close was called
	done    chan struct{} // closed when Serve has returned
	remove  sync.Once

	badAt   time.Time // when OnBad was last called
	badSeen uint64    // unparsable datagrams since
}

// bad tells OnBad of an unparsable datagram, at most once a minute.
func (l *Listener) bad(dgram []byte, err error) {
	l.badSeen++
	if l.OnBad == nil || !l.badAt.IsZero() && time.Since(l.badAt) < time.Minute {
		return
	}
	l.OnBad(dgram[:min(len(dgram), 200)], err, l.badSeen)
	l.badAt, l.badSeen = time.Now(), 0
}

// Listen binds the socket at path (see SocketPath): its folder is made
// (0755) if missing and must belong to this user and be writable by no
// one else; a socket left there by a manager that died is replaced. The
// socket is writable by every user (0622): nginx's workers write to it.
// Any local user can therefore add lines to the counts; none can read.
func Listen(path string) (*Listener, error) {
	if err := ownDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("request log socket %s: remove the old one: %w", path, err)
	}
	fd, err := bind(path)
	if err != nil {
		return nil, fmt.Errorf("request log socket %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err == nil {
		err = os.Chmod(path, 0o622)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("request log socket %s: %w", path, err)
	}
	return &Listener{fd: fd, path: path, bound: fi, qlen: QueueLimit(), done: make(chan struct{})}, nil
}

// bind makes a blocking datagram socket bound to path. A receive timeout
// lets Serve see a Close even if the shutdown that wakes it is missed.
func bind(path string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	// A larger queue rides out a pause of the manager; the kernel caps it
	// at net.core.rmem_max and net.unix.max_dgram_qlen datagrams.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	tv := unix.NsecToTimeval((250 * time.Millisecond).Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return fd, nil
}

// ownDir makes dir, or checks that the one there is this user's own
// folder, which no one else can write (it is under a shared /tmp).
func ownDir(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("request log folder %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("request log folder %s: %w", dir, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("request log folder %s: not a folder; remove it and start again", dir)
	case !ok || int(st.Uid) != os.Geteuid():
		return fmt.Errorf("request log folder %s: belongs to another user; remove it and start again", dir)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("request log folder %s: writable by others (%s); remove it and start again", dir, fi.Mode().Perm())
	}
	return os.Chmod(dir, 0o755) // whatever the umask: nginx's workers go through it
}

// Path is the socket's path.
func (l *Listener) Path() string { return l.path }

// Close stops the listener, waits for Serve to return, and removes the
// socket file, unless another listener has been bound at the path since.
// It is safe to call more than once.
func (l *Listener) Close() error {
	l.mu.Lock()
	first, serving := !l.closed, l.serving
	l.closed = true
	l.mu.Unlock()
	if first {
		unix.Shutdown(l.fd, unix.SHUT_RDWR) // wakes a blocked read
		if !serving {
			unix.Close(l.fd)
		}
	}
	if serving {
		<-l.done
	}
	l.removeFile()
	return nil
}

func (l *Listener) removeFile() {
	l.remove.Do(func() {
		if fi, err := os.Stat(l.path); err == nil && os.SameFile(fi, l.bound) {
			os.Remove(l.path)
		}
	})
}

func (l *Listener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// QueueLimit reads net.unix.max_dgram_qlen: how many datagrams the kernel
// queues on the socket before nginx's next line is dropped (Linux reads it
// when the socket is made). The kernel's default is 10, which a reader
// that falls behind by a millisecond at 10k requests/s overruns; systemd
// raises it to 512 at boot. 0 when it cannot be read.
func QueueLimit() int {
	b, err := os.ReadFile("/proc/sys/net/unix/max_dgram_qlen")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// Serve reads datagrams and adds them to c until ctx ends or the
// listener is closed; it returns nil then, with the socket closed and
// removed. Call it once.
//
// It reads the socket empty, then, when the kernel's queue is long
// enough, sleeps while an eighth of it fills at the rate just seen (at
// most maxPause), so that the manager wakes a few hundred times a second
// rather than once per request; when the socket is empty it waits in a
// blocking read. With the kernel's default queue of 10 (QueueLimit) there
// is no room to wait: a 2 ms pause then lost 158 of 700 lines of requests
// sent one by one.
func (l *Listener) Serve(ctx context.Context, c *Counts) error {
	l.mu.Lock()
	if l.closed || l.serving {
		l.mu.Unlock()
		return nil
	}
	l.serving = true
	l.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer func() {
		stop()
		unix.Close(l.fd)
		close(l.done)
		l.removeFile()
	}()
	b := newBatch()
	var req Request
	begun := time.Now() // this cycle's: wait, read, pause
	for !l.isClosed() {
		n, err := l.read(c, b, &req, unix.MSG_DONTWAIT)
		if err == nil && n == 0 {
			n, err = l.read(c, b, &req, 0) // blocks: waits for one
		}
		if err != nil {
			return err
		}
		now := time.Now()
		if p := pauseFor(l.qlen, n, now.Sub(begun)); p > 0 {
			time.Sleep(p)
		}
		begun = now
	}
	return nil
}

// read reads datagrams until the socket is empty (flags MSG_DONTWAIT), or
// one (flags 0: blocking, at most the receive timeout), and counts them,
// holding c's lock from the first datagram to the end of the batch.
func (l *Listener) read(c *Counts, b *batch, req *Request, flags int) (n int, err error) {
	var now time.Time
	defer func() {
		if n > 0 {
			c.mu.Unlock()
		}
	}()
	for {
		got, err := b.recv(l.fd, flags)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			return n, nil
		case err != nil:
			if l.isClosed() {
				return n, nil
			}
			return n, fmt.Errorf("request log socket %s: %w", l.path, err)
		case got == 0 || got == 1 && len(b.dgram(0)) == 0 && l.isClosed(): // shut down
			return n, nil
		}
		if n == 0 {
			now = c.lock()
		}
		n += got
		for i := range got {
			dgram := b.dgram(i)
			if err := Parse(dgram, req); err != nil {
				c.stats.Unparsable++
				l.bad(dgram, err)
			} else {
				c.add(req, now)
			}
		}
		if flags == 0 || got < len(b.hdrs) {
			return n, nil // one asked for, or a short batch: the socket is empty
		}
	}
}

// maxPause bounds Serve's pause: counts on /probe are at most that late.
const maxPause = 10 * time.Millisecond

// pauseFor is how long an eighth of a queue of qlen datagrams takes to
// fill at n datagrams in elapsed, at most maxPause; 0 when too short to
// be worth a sleep (under 200 µs) or the queue too short (under 64).
func pauseFor(qlen, n int, elapsed time.Duration) time.Duration {
	if qlen < 64 || n == 0 {
		return 0
	}
	if elapsed <= 0 {
		return 0
	}
	p := time.Duration(float64(qlen/8) / float64(n) * float64(elapsed))
	if p = min(p, maxPause); p < 200*time.Microsecond {
		return 0
	}
	return p
}
