package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tmpfs is the small file system the run mounts for the instances' logs,
// so that it can fill it.
type tmpfs struct {
	dir     string
	mounted bool
}

// mountTmpfs mounts a tmpfs of size MiB at dir (created), mode 0755 as
// hellomgr wants a logs folder.
func mountTmpfs(dir string, size int) (*tmpfs, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	opts := fmt.Sprintf("size=%dm,mode=0755", size)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
		return nil, fmt.Errorf("mount a tmpfs at %s (the disk-full fault needs root): %w", dir, err)
	}
	return &tmpfs{dir: dir, mounted: true}, nil
}

// unmount unmounts the tmpfs, lazily when something still holds it. Safe
// to call twice.
func (t *tmpfs) unmount() error {
	if t == nil || !t.mounted {
		return nil
	}
	err := syscall.Unmount(t.dir, 0)
	if err != nil {
		err = syscall.Unmount(t.dir, syscall.MNT_DETACH)
	}
	if err == nil {
		t.mounted = false
	}
	return err
}

func (t *tmpfs) fillPath() string { return filepath.Join(t.dir, "fill") }

// fill writes a file until the tmpfs has no room left.
func (t *tmpfs) fill() error {
	f, err := os.Create(t.fillPath())
	if err != nil {
		return err
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return err
		}
	}
}

// diskFull fills the logs' file system for 1-4 s, then frees it, and
// counts the lines the manager says it dropped meanwhile.
func diskFull(r *run, m *manager, w *window) bool {
	if r.tmpfs == nil {
		return false
	}
	tm := r.byName("tornado")
	before := tm.droppedLines(r.ctx)
	hold := between(r.rng, time.Second, 4*time.Second)
	w.detail = fmt.Sprintf("for %s", hold.Round(time.Millisecond))
	if err := r.tmpfs.fill(); err != nil {
		r.violation(w, "fill the tmpfs: %v", err)
	}
	sleep(r.ctx, hold)
	os.Remove(r.tmpfs.fillPath())
	time.Sleep(1500 * time.Millisecond) // the manager's file check runs every second
	after := tm.droppedLines(r.ctx)
	if after >= before {
		r.dropped += after - before
	} else { // the counter began again (a new manager)
		r.dropped += after
	}
	w.detail += fmt.Sprintf(", %d lines dropped by the manager", after-min(before, after))
	return true
}

// droppedLines is the sum of hellomgr_log_dropped_lines_total over the
// manager's ports, from each port's /probe; 0 when it cannot be read.
func (m *manager) droppedLines(ctx context.Context) uint64 {
	st, _, err := m.status(ctx, 10*time.Second)
	if err != nil || st.MetricsAddr == "" {
		return 0
	}
	var total uint64
	for _, port := range m.ports {
		total += probeDropped(ctx, st.MetricsAddr, port)
	}
	return total
}

func probeDropped(ctx context.Context, addr string, port int) uint64 {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://%s/probe?port=%d", addr, port)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "hellomgr_log_dropped_lines_total "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return uint64(f)
		}
	}
	return 0
}

// stuckClient opens a control connection with a tiny receive buffer,
// asks for a reload and 200 statuses on it and never reads the answers,
// for 3-8 s; meanwhile the manager must answer others and restart a port.
func stuckClient(r *run, m *manager, w *window) bool {
	hold := between(r.rng, 3*time.Second, 8*time.Second)
	port := r.servingPort(m)
	w.detail = fmt.Sprintf("for %s, restart %d meanwhile", hold.Round(time.Millisecond), port)
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1) })
	}}
	conn, err := d.DialContext(r.ctx, "unix", filepath.Join(m.dir, ".hellomgr", "hellomgr.sock"))
	if err != nil {
		r.violation(w, "%s: connect to the control socket: %v", m.name, err)
		return true
	}
	defer conn.Close()
	req := "POST /v1/reload HTTP/1.1\r\nHost: hellomgr\r\nContent-Length: 0\r\n\r\n" +
		strings.Repeat("GET /v1/status HTTP/1.1\r\nHost: hellomgr\r\n\r\n", 200)
	conn.SetWriteDeadline(time.Now().Add(hold))
	go conn.Write([]byte(req)) // may block once the manager stops reading
	ends := time.Now().Add(hold)
	sleep(r.ctx, hold/3)
	if _, took, err := m.status(r.ctx, statusLimit); err != nil {
		r.violation(w, "%s: status while a client stops reading: %v (after %s)", m.name, err, took.Round(time.Millisecond))
	}
	if port != 0 {
		r.cmd(m, w, time.Minute, "restart", strconv.Itoa(port))
	}
	sleep(r.ctx, time.Until(ends))
	return true
}
