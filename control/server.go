package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Listen listens on the control socket at path, mode 0600. A socket file
// left by a dead manager is replaced: the caller proves first that no
// live manager uses it (the manager's pid lock). Anything else at path,
// or a socket of another user than this one or root, is refused and left
// as it is (CheckSocket).
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("control socket folder: %w", err)
	}
	if err := CheckSocket(path); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove the stale control socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket permissions: %w", err)
	}
	return ln, nil
}

// Serve answers requests on ln, the control socket at path, with handler
// (Routes) until ctx ends, then shuts the server down and removes the
// socket file. Connections from a process of another user are refused,
// and logged on log. It returns nil once ctx has ended, or the error that
// stopped it serving first.
func Serve(ctx context.Context, ln net.Listener, path string, handler http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second, // a client that hangs mid-request cannot hold a goroutine forever
		ReadTimeout:       10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return withLog(context.Background(), log) },
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
		os.Remove(path)
	}()
	err := srv.Serve(&peerListener{Listener: ln, log: log})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// peerListener refuses connections from other users, checked with
// SO_PEERCRED: the socket's 0600 mode is the first guard, this the second.
type peerListener struct {
	net.Listener
	log *slog.Logger
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(conn)
		if err == nil && (uid == uint32(os.Getuid()) || uid == 0) {
			return conn, nil
		}
		l.log.Warn("control socket: refused a connection", "uid", uid, "err", err)
		conn.Close()
	}
}

// peerUID is the user of the process at the other end of conn.
func peerUID(conn net.Conn) (uint32, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return 0, errors.New("not a unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var credErr error
	err = raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err != nil {
		return 0, err
	}
	if credErr != nil {
		return 0, credErr
	}
	return cred.Uid, nil
}
