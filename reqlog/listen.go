package reqlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

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
type Listener struct {
	conn  *net.UnixConn
	path  string
	bound os.FileInfo // the socket file as bound, to remove only that one
	once  sync.Once
}

// Listen binds the socket at path (see SocketPath): its folder is made
// (0755) if missing and must belong to this user and be writable by no
// one else; a socket left there by a manager that died is replaced. The
// socket is writable by every user (0622): nginx's workers write to it.
// Any local user can therefore add lines to the counts; none can read.
func Listen(path string) (*Listener, error) {
	dir := filepath.Dir(path)
	if err := ownDir(dir); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("request log socket %s: remove the old one: %w", path, err)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("request log socket %s: %w", path, err)
	}
	// A larger queue rides out a pause of the manager; the kernel caps
	// it at net.core.rmem_max and net.unix.max_dgram_qlen datagrams.
	conn.SetReadBuffer(4 << 20)
	if err := os.Chmod(path, 0o622); err != nil {
		conn.Close()
		return nil, fmt.Errorf("request log socket %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("request log socket %s: %w", path, err)
	}
	return &Listener{conn: conn, path: path, bound: fi}, nil
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

// Close stops the listener and removes its socket file, unless another
// listener has been bound at the path since. Serve then returns. It is
// safe to call more than once.
func (l *Listener) Close() error {
	err := l.conn.Close()
	l.once.Do(func() {
		if fi, serr := os.Stat(l.path); serr == nil && os.SameFile(fi, l.bound) {
			os.Remove(l.path)
		}
	})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
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
// listener is closed; it returns nil then, with the socket removed.
//
// Each wake-up reads the socket empty. It never sleeps to gather a
// batch: with the kernel's default queue of 10 datagrams (QueueLimit),
// a 2 ms pause lost 158 of 700 lines of requests sent one after another.
func (l *Listener) Serve(ctx context.Context, c *Counts) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer func() {
		stop()
		l.Close() // waits for a Close under way: the socket is gone on return
	}()
	raw, err := l.conn.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	var req Request
	for {
		n := 0
		var rerr error
		err := raw.Read(func(fd uintptr) bool {
			for {
				size, err := unix.Read(int(fd), buf)
				if err == unix.EAGAIN {
					return n > 0 // nothing read yet: wait until there is
				}
				if err != nil {
					rerr = err
					return true
				}
				n++
				if Parse(buf[:size], &req) != nil {
					c.Unparsable()
				} else {
					c.Add(&req)
				}
			}
		})
		if err != nil || rerr != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("request log socket %s: %w", l.path, errors.Join(err, rerr))
		}
	}
}
