package manager

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/hellomgr/hellomgr/internal/fds"
	"github.com/hellomgr/hellomgr/proc"
)

// bindPort listens on port on host: the config's `address`, "" for
// every interface (as Tornado's app.listen binds them all). With keep
// false the socket is closed again at once: a check that the port is free.
func bindPort(host string, port int, keep bool) (*os.File, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		return nil, fmt.Errorf("port %d: %s is not an address of this machine (address: in the config): %w", port, host, err)
	}
	if err != nil {
		return nil, portTaken(port, err)
	}
	defer ln.Close()
	if !keep {
		return nil, nil
	}
	// File duplicates the socket: closing ln leaves f, which children
	// inherit as fd 3, listening.
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		return nil, fmt.Errorf("port %d: %w", port, err)
	}
	return nonblockingFile(f)
}

// nonblockingFile returns a copy of a socket file that exec.Cmd can pass
// to any number of children without changing its mode. Cmd.Start calls
// Fd on every extra file, and Fd on a file Go believes non-blocking puts
// the socket in blocking mode: a flag shared by every process holding the
// socket, so the instance already accepting on it would block in accept and
// could no longer stop accepting when asked to drain. A file made from a
// descriptor that was blocking when wrapped is one Go never touches again;
// the socket is then set non-blocking behind its back, as every app that
// accepts on it expects.
func nonblockingFile(f *os.File) (*os.File, error) {
	defer f.Close()
	// Close-on-exec, as every descriptor of ours must be: a copy leaked
	// into other instances would keep the port open after we close it.
	fd, err := fds.Dup(int(f.Fd())) // Fd: blocking, for now
	if err != nil {
		return nil, fmt.Errorf("duplicate socket: %w", err)
	}
	g := os.NewFile(uintptr(fd), f.Name())
	if err := syscall.SetNonblock(fd, true); err != nil {
		g.Close()
		return nil, fmt.Errorf("socket non-blocking: %w", err)
	}
	return g, nil
}

// CheckPortFree says whether port can be bound now: nil, or a one-line
// error naming the program that holds it.
func CheckPortFree(host string, port int) error {
	_, err := bindPort(host, port, false)
	return err
}

// portTaken turns a failed listen into a one-line error that names the
// port and, where /proc shows it, the program holding it.
func portTaken(port int, err error) error {
	if !errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("port %d: %w", port, err)
	}
	holders, _ := proc.Holders(port)
	if len(holders) == 0 {
		return fmt.Errorf("port %d is already in use by another program", port)
	}
	var who []string
	for _, h := range holders {
		who = append(who, fmt.Sprintf("%s (pid %d)", h.Command, h.PID))
	}
	return fmt.Errorf("port %d is already in use by %s", port, strings.Join(who, ", "))
}

// bindAll binds every port (keeping the sockets when keep is set) and
// returns them by port. On any failure it closes what it bound and returns
// every taken port's error, so nothing is left half-started.
func bindAll(host string, ports []int, keep bool) (map[int]*os.File, error) {
	files := make(map[int]*os.File, len(ports))
	var errs []error
	for _, port := range ports {
		f, err := bindPort(host, port, keep)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files[port] = f
	}
	if len(errs) > 0 {
		closeAll(files)
		return nil, errors.Join(errs...)
	}
	return files, nil
}

func closeAll(files map[int]*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}
