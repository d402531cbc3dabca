package proc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Holder is a process that holds a socket.
type Holder struct {
	PID     int
	Command string // from /proc/PID/comm (at most 15 bytes), else argv[0]'s base name
}

// Holders returns the processes that hold a TCP socket listening on port,
// over IPv4 and IPv6, sorted by PID. Several processes hold the same socket
// when it was inherited, as nginx's workers hold their master's.
//
// It skips the processes it cannot inspect (those of other users, unless it
// runs as root) and those that exit during the scan, so an empty result
// means either that nothing listens on port or that only such processes do.
func Holders(port int) ([]Holder, error) {
	if err := checkPort(port); err != nil {
		return nil, err
	}
	inodes, err := listenInodes(port)
	if err != nil {
		return nil, fmt.Errorf("find listeners on port %d: %w", port, err)
	}
	if len(inodes) == 0 {
		return nil, nil
	}
	pids, err := allPIDs()
	if err != nil {
		return nil, fmt.Errorf("find listeners on port %d: %w", port, err)
	}
	var holders []Holder
	for _, pid := range pids {
		held, err := holdsAny(pid, inodes)
		if err != nil || !held {
			continue // gone, or not ours to read
		}
		holders = append(holders, Holder{PID: pid, Command: command(pid)})
	}
	return holders, nil
}

// HoldsInode reports whether the process pid has a file descriptor on the
// socket with the given inode (see SocketInode). A process that no longer
// exists holds nothing: that is false and no error.
func HoldsInode(pid int, inode uint64) (bool, error) {
	held, err := holdsAny(pid, map[uint64]bool{inode: true})
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("list sockets of process %d: %w", pid, err)
	}
	return held, nil
}

// SocketInode returns the inode of the socket under c, as the targets of
// /proc/PID/fd links name it ("socket:[inode]"). c is typically an *os.File,
// or a *net.TCPListener, which needs no File() duplicate. It is an error if
// c is not a socket.
func SocketInode(c syscall.Conn) (uint64, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("socket inode: %w", err)
	}
	var st syscall.Stat_t
	var statErr error
	err = raw.Control(func(fd uintptr) { statErr = syscall.Fstat(int(fd), &st) })
	if err = errors.Join(err, statErr); err != nil {
		return 0, fmt.Errorf("socket inode: fstat: %w", err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		return 0, fmt.Errorf("socket inode: not a socket (mode %#o)", st.Mode)
	}
	return st.Ino, nil
}

// holdsAny reports whether one of pid's file descriptors is a socket whose
// inode is in inodes. A descriptor closed while it reads is skipped.
func holdsAny(pid int, inodes map[uint64]bool) (bool, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	d, err := os.Open(dir)
	if err != nil {
		return false, vanished(err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return false, vanished(err)
	}
	for _, name := range names {
		link, err := os.Readlink(dir + "/" + name)
		if err != nil {
			continue
		}
		s, ok := strings.CutPrefix(link, "socket:[")
		if !ok {
			continue
		}
		inode, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64)
		if err == nil && inodes[inode] {
			return true, nil
		}
	}
	return false, nil
}

// allPIDs lists the processes in /proc, in increasing order.
func allPIDs() ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, name := range names {
		if pid, err := strconv.Atoi(name); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// command names pid for a message: /proc/PID/comm, the name ps and ss show
// (nginx's workers say "nginx", where their argv[0] says "nginx: worker
// process"), else the base name of argv[0]. It is "" when pid has gone.
func command(pid int) string {
	p := "/proc/" + strconv.Itoa(pid)
	if b, err := os.ReadFile(p + "/comm"); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s
		}
	}
	if b, err := os.ReadFile(p + "/cmdline"); err == nil {
		argv0, _, _ := strings.Cut(string(b), "\x00")
		if argv0 != "" {
			return filepath.Base(argv0)
		}
	}
	return ""
}
