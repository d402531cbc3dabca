package cmd

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUpSendsLinesToTheJournal: with logs.to journal, each line of an
// instance is a journal entry (through the native socket, here a fake one
// named by HELLOMGR_JOURNAL_SOCKET) carrying its port and pid, and no log
// file is written; `logs` says where the lines are.
func TestUpSendsLinesToTheJournal(t *testing.T) {
	dir, err := os.MkdirTemp("", "jr")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "socket")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("HELLOMGR_JOURNAL_SOCKET", socket)

	e := newEnv(t, 1, "logs:\n  to: journal\n")
	e.mustRun("up", "-d")
	defer e.mustRun("down")
	port := e.ports[0]
	pid := e.statuses()[port].PID
	buf := make([]byte, 64<<10)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	found := false
	for !found {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no entry with the instance's startup line: %v", err)
		}
		fields := map[string]string{}
		for _, line := range strings.Split(string(bytes.TrimSuffix(buf[:n], []byte("\n"))), "\n") {
			k, v, _ := strings.Cut(line, "=")
			fields[k] = v
		}
		if fields["HELLOMGR_PORT"] != strconv.Itoa(port) || fields["HELLOMGR_PID"] != strconv.Itoa(pid) || fields["SYSLOG_IDENTIFIER"] != "hellomgr-"+strconv.Itoa(port) {
			t.Fatalf("entry %q: want HELLOMGR_PORT=%d, HELLOMGR_PID=%d", buf[:n], port, pid)
		}
		found = strings.Contains(fields["MESSAGE"], "listening")
	}
	if entries, _ := os.ReadDir(filepath.Join(e.dir, "logs")); len(entries) != 0 {
		t.Errorf("logs.to journal wrote %d files in logs/", len(entries))
	}
	if _, errOut, code := e.run("logs"); code != 1 || !strings.Contains(errOut, "journalctl -u hellomgr HELLOMGR_PORT="+strconv.Itoa(port)) {
		t.Errorf("logs: exit %d, stderr %q; want 1 and the journalctl command", code, errOut)
	}
}
