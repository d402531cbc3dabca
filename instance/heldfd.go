package instance

import (
	"errors"
	"os"
	"sync"

	"github.com/hellomgr/hellomgr/internal/fds"
	"golang.org/x/sys/unix"
)

// heldFD is a copy of the read end of a child's output pipe, kept for a
// Handover as a bare descriptor. It is never an *os.File: os.NewFile
// registers a non-blocking descriptor in Go's poller, edge-triggered, and
// the pipe is non-blocking, so every line the child writes would wake the
// manager while logs.Log's pump batches on purpose (issue 23: 10% of a
// core for 4 instances logging every request). The mutex keeps dup and
// close apart, so a number closed and reused by another file is never
// handed over.
type heldFD struct {
	mu sync.Mutex
	fd int // -1 once closed, or when no copy could be made
}

// holdFD keeps a close-on-exec copy of f's descriptor.
func holdFD(f *os.File) *heldFD {
	fd, err := fds.DupOf(f)
	if err != nil {
		fd = -1
	}
	return &heldFD{fd: fd}
}

// dup returns a close-on-exec copy of the held descriptor, for the
// caller to close.
func (h *heldFD) dup() (int, error) {
	if h == nil {
		return -1, errors.New("no output pipe")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fd < 0 {
		return -1, errors.New("output pipe already closed")
	}
	return fds.Dup(h.fd)
}

// close closes the held descriptor; safe to call twice, and on nil.
func (h *heldFD) close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fd >= 0 {
		unix.Close(h.fd)
		h.fd = -1
	}
}
