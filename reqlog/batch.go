package reqlog

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// batch is room for recvmmsg(2) to read up to batchSize datagrams in one
// system call.
type batch struct {
	hdrs []mmsghdr
	iovs []unix.Iovec
	bufs [][]byte
}

// mmsghdr is struct mmsghdr of <sys/socket.h>: a message and the length
// the kernel received into it.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

const (
	batchSize = 32
	// maxLine bounds a datagram: nginx's syslog lines are at most 4 KiB
	// (NGX_SYSLOG_MAX_STR); a longer one is cut and then unparsable.
	maxLine = 8 << 10
)

func newBatch() *batch {
	b := &batch{hdrs: make([]mmsghdr, batchSize), iovs: make([]unix.Iovec, batchSize), bufs: make([][]byte, batchSize)}
	for i := range b.hdrs {
		b.bufs[i] = make([]byte, maxLine)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(maxLine)
		b.hdrs[i].hdr.Iov = &b.iovs[i]
		b.hdrs[i].hdr.SetIovlen(1)
	}
	return b
}

// recv reads up to batchSize datagrams without waiting (MSG_DONTWAIT),
// in a raw system call, which the Go scheduler does not see: each one it
// sees keeps its monitor thread awake, and that thread's wake-ups were
// most of what reading cost. With flags 0 it waits for one datagram, in
// a blocking call the scheduler sees (at most the receive timeout).
func (b *batch) recv(fd int, flags int) (int, error) {
	call, vlen := unix.Syscall6, 1
	if flags&unix.MSG_DONTWAIT != 0 {
		call, vlen = unix.RawSyscall6, len(b.hdrs)
	}
	n, _, e := call(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(vlen), uintptr(flags), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// dgram is the i-th datagram of the last recv; empty when it was cut
// (longer than maxLine), which then counts as unparsable.
func (b *batch) dgram(i int) []byte {
	h := &b.hdrs[i]
	if h.hdr.Flags&unix.MSG_TRUNC != 0 {
		return b.bufs[i][:0]
	}
	return b.bufs[i][:h.len]
}
