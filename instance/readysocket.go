package instance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// readySocket is the sd_notify socket of one process: a datagram socket
// in the abstract namespace (no file to clean up, no path-length limit),
// named in the child's NOTIFY_SOCKET. It tells the manager when that very
// process is ready, which a probe of a shared port cannot: with socket
// handoff, the old and the new process accept on the same socket.
type readySocket struct {
	conn  *net.UnixConn
	name  string
	ready chan struct{} // closed on the first READY=1 from the process
	once  sync.Once
}

var notifySeq atomic.Uint64

// listenReady opens a socket that accepts credentials with each datagram,
// so that only the process itself can declare itself ready.
func listenReady() (*readySocket, error) {
	name := fmt.Sprintf("@hellomgr/%d/%d", os.Getpid(), notifySeq.Add(1))
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	raw, err := conn.SyscallConn()
	if err == nil {
		var serr error
		err = raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1) })
		if err == nil {
			err = serr
		}
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("notify socket credentials: %w", err)
	}
	return &readySocket{conn: conn, name: name, ready: make(chan struct{})}, nil
}

// serve reads datagrams until the socket is closed. The first READY=1 sent
// by pid closes ready; everything else (STATUS=, STOPPING=1, or a message
// from another process) is read and dropped, so senders never block.
func (n *readySocket) serve(pid int) {
	buf := make([]byte, 1024) // READY=1 fits many times over; a longer message is cut, and only READY=1 matters
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	for {
		nr, noob, _, _, err := n.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		if senderPID(oob[:noob]) == pid && hasLine(buf[:nr], "READY=1") {
			n.once.Do(func() { close(n.ready) })
		}
	}
}

// errNoReady is a process that never said READY=1: most often an app that
// knows nothing of NOTIFY_SOCKET under ready.notify: true.
var errNoReady = errors.New("sent no READY=1 within ready.timeout")

// wait returns nil once the process has said READY=1, or errNoReady once
// ctx is done.
func (n *readySocket) wait(ctx context.Context) error {
	select {
	case <-n.ready:
		return nil
	case <-ctx.Done():
		return errNoReady
	}
}

func (n *readySocket) close() { n.conn.Close() }

func senderPID(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if cred, err := unix.ParseUnixCredentials(&m); err == nil {
			return int(cred.Pid)
		}
	}
	return 0
}

func hasLine(msg []byte, line string) bool {
	for _, l := range bytes.Split(msg, []byte("\n")) {
		if string(l) == line {
			return true
		}
	}
	return false
}
