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
	f, err := bindPort(0, true)
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
