package control

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// Who may talk to a manager: its own user, or root. The socket's owner is
// checked before a client connects (CheckSocket) and the process behind
// it once it has (Dial); the manager checks each client (peerListener).
// The manager's own files answer to the same owners: Trusted,
// TrustedOwners, UserName and Kind word their checks too.

// CheckSocket refuses a control socket path that holds anything but a
// socket of the user running hellomgr or root: `up` would delete it to
// listen there, and a client would talk to whoever listens on it. Nothing
// at path is fine. Each refusal is one line, "<path>: <what>; <fix>".
func CheckSocket(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case err != nil:
		return nil
	case fi.Mode()&fs.ModeSocket == 0:
		return fmt.Errorf("%s: is %s, not a control socket; move it away, or set socket: to another path", path, Kind(fi.Mode()))
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; !Trusted(uid) {
		return fmt.Errorf("%s: control socket is owned by %s, not by %s, so it is not your hellomgr's; "+
			"if it is that user's manager, run hellomgr as that user; if not, remove it, or set socket: to a path in a folder only you can write",
			path, UserName(uid), TrustedOwners())
	}
	return nil
}

// foreignPeer is a control socket answered by a process of another user:
// a client does not send it a request.
type foreignPeer struct {
	socket string
	uid    uint32
}

func (e *foreignPeer) Error() string {
	return fmt.Sprintf("%s: control socket is answered by a process of %s, not of %s, so not by your hellomgr; if it is that user's manager, run hellomgr as that user; if not, stop that process and remove the socket",
		e.socket, UserName(e.uid), TrustedOwners())
}

// Trusted reports whether uid may own hellomgr's folders and sockets:
// the user running hellomgr, or root.
func Trusted(uid uint32) bool { return uid == 0 || uid == uint32(os.Geteuid()) }

// TrustedOwners words Trusted for a message: "you (alice (uid 1000)) or
// root", or "root".
func TrustedOwners() string {
	if os.Geteuid() == 0 {
		return "root"
	}
	return "you (" + UserName(uint32(os.Geteuid())) + ") or root"
}

// UserName names uid for a message: "nobody (uid 65534)", or "uid 65534"
// when it has no name.
func UserName(uid uint32) string {
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		return fmt.Sprintf("%s (uid %d)", u.Username, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}

// Kind words a file's type for a message: "a regular file".
func Kind(mode fs.FileMode) string {
	switch {
	case mode.IsRegular():
		return "a regular file"
	case mode.IsDir():
		return "a folder"
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case mode&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}
