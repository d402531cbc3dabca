package proc

import (
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestHoldersSelf(t *testing.T) {
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	self := Holder{PID: os.Getpid(), Command: strings.TrimSpace(string(comm))}
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			l := listen(t, network)
			port := l.Addr().(*net.TCPAddr).Port
			got, err := Holders(port)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, []Holder{self}) {
				t.Errorf("port %d: got holders %+v, want %+v", port, got, []Holder{self})
			}
		})
	}
}

func TestHoldersNone(t *testing.T) {
	l := listen(t, "tcp4")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	got, err := Holders(port)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("closed port %d: got holders %+v, want none", port, got)
	}
}

// TestInheritedSocket passes a listening socket to a child, as the manager
// does, and follows who holds it.
func TestInheritedSocket(t *testing.T) {
	l := listen(t, "tcp4")
	port := l.Addr().(*net.TCPAddr).Port
	inode, err := SocketInode(l)
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.File() // a duplicate: the same socket, so the same inode
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, err := SocketInode(f); err != nil || fi != inode {
		t.Fatalf("SocketInode of the listener's File(): got %d, %v, want %d", fi, err, inode)
	}

	cmd := exec.Command("sleep", "30")
	cmd.ExtraFiles = []*os.File{f}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child := cmd.Process.Pid
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	got, err := Holders(port)
	if err != nil {
		t.Fatal(err)
	}
	want := []Holder{{PID: os.Getpid()}, {PID: child, Command: "sleep"}}
	if os.Getpid() > child {
		want[0], want[1] = want[1], want[0]
	}
	if len(got) != 2 || got[0].PID != want[0].PID || got[1].PID != want[1].PID {
		t.Fatalf("port %d: got holders %+v, want pids %d and %d", port, got, want[0].PID, want[1].PID)
	}
	holds(t, child, inode, true)

	cmd.Process.Kill()
	cmd.Wait()
	holds(t, child, inode, false) // gone: holds nothing, and no error
	holds(t, os.Getpid(), inode, true)
	f.Close()
	l.Close()
	holds(t, os.Getpid(), inode, false)
}

func TestSocketInodeNotSocket(t *testing.T) {
	if _, err := SocketInode(devNull(t)); err == nil {
		t.Error("SocketInode(/dev/null): got no error")
	}
}

func holds(t *testing.T, pid int, inode uint64, want bool) {
	t.Helper()
	got, err := HoldsInode(pid, inode)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("pid %d holds socket %d: got %v, want %v", pid, inode, got, want)
	}
}
