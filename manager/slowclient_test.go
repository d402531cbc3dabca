package manager

import (
	"context"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/control"
)

// deafClient connects to socket with the smallest receive buffer the
// kernel allows, sends request and never reads its reply.
func deafClient(t *testing.T, socket, request string) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1)
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: socket}); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "deaf")
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
}

// A reload asked for by a control client that never reads its progress
// goes on to its end, `restart` is answered meanwhile and after, and the
// manager stops: the rollout stopped where the client's buffer filled,
// restart was refused ("a reload is in progress") and down hung.
func TestReloadOfADeafClientDoesNotFreezeTheManager(t *testing.T) {
	const n = 300 // more lines than the socket buffers hold
	r := newRig(t, fakeSwaps["handoff + READY=1"], n)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- r.m.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-served
	})
	r.write("v2")
	socket := r.m.Config().Socket
	deafClient(t, socket, "POST /v1/reload HTTP/1.1\r\nHost: hellomgr\r\nContent-Length: 0\r\n\r\n")
	replaced := 0
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		replaced = 0
		for _, pid := range r.pids() {
			if r.version(pid) == "v2" {
				replaced++
			}
		}
		if replaced == n && countReady(r.m) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reload of a client that does not read stopped at %d of %d ports", replaced, n)
		}
	}
	c := control.Dial(socket)
	restartCtx, cancelRestart := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelRestart()
	var err error
	for restartCtx.Err() == nil { // the rollout's last step may still hold the lock
		if err = c.Restart(restartCtx, r.ports[:1], nil); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("restart after the reload of a deaf client: %v", err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- r.m.Shutdown(context.Background()) }()
	select {
	case <-stopped:
	case <-time.After(60 * time.Second):
		t.Fatal("the manager did not stop within 60s after the reload of a deaf client")
	}
}
