package manager

import (
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Starting children with the shared socket must leave it non-blocking:
// an instance accepting on it must never find its accept blocking.
func TestSharedSocketStaysNonBlockingAcrossStarts(t *testing.T) {
	f, err := bindPort("", 0, true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 3 {
		cmd := exec.Command("true")
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		flags, err := unix.FcntlInt(f.Fd(), syscall.F_GETFL, 0)
		if err != nil {
			t.Fatal(err)
		}
		if flags&syscall.O_NONBLOCK == 0 {
			t.Fatal("the shared socket is in blocking mode after starting a child")
		}
	}
}

// The manager's copy of a port's socket must not leak into instances of
// other ports: closing it would then not close the port.
func TestSharedSocketIsCloseOnExec(t *testing.T) {
	f, err := bindPort("", 0, true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, err := unix.FcntlInt(f.Fd(), syscall.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if flags&syscall.FD_CLOEXEC == 0 {
		t.Fatal("the shared socket is inherited by every child, not only the one it is passed to")
	}
}
