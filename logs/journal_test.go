package logs

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// parseEntry decodes one native-protocol datagram into its fields.
func parseEntry(t *testing.T, b []byte) map[string]string {
	t.Helper()
	fields := map[string]string{}
	for len(b) > 0 {
		i := bytes.IndexAny(b, "=\n")
		if i < 0 {
			t.Fatalf("field without an end: %q", b)
		}
		key := string(b[:i])
		if b[i] == '=' {
			end := bytes.IndexByte(b[i:], '\n')
			fields[key] = string(b[i+1 : i+end])
			b = b[i+end+1:]
			continue
		}
		n := binary.LittleEndian.Uint64(b[i+1 : i+9])
		fields[key] = string(b[i+9 : i+9+int(n)])
		if b[i+9+int(n)] != '\n' {
			t.Fatalf("binary field %s not ended by a newline", key)
		}
		b = b[i+9+int(n)+1:]
	}
	return fields
}

func TestJournalEntryEncoding(t *testing.T) {
	for _, msg := range []string{"hello", "", "two\nlines", "x=y"} {
		got := parseEntry(t, AppendEntry(nil, 8001, 4242, []byte(msg)))
		want := map[string]string{
			"MESSAGE": msg, "PRIORITY": "6", "STREAM": "output", "SYSLOG_IDENTIFIER": "hellomgr-8001",
			"HELLOMGR_PORT": "8001", "HELLOMGR_PID": "4242",
		}
		if len(got) != len(want) {
			t.Errorf("%q: fields %v, want %v", msg, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%q: %s=%q, want %q", msg, k, got[k], v)
			}
		}
	}
	// The binary-safe form, byte for byte.
	want := "MESSAGE\n" + string([]byte{3, 0, 0, 0, 0, 0, 0, 0}) + "a\nb\n"
	if got := string(appendField(nil, "MESSAGE", []byte("a\nb"))); got != want {
		t.Errorf("appendField: got %q, want %q", got, want)
	}
}

// fakeJournal listens on a unixgram socket, as journald does, and returns
// its path, the datagrams it receives, and a function that stops it.
func fakeJournal(t *testing.T) (string, <-chan []byte, func()) {
	t.Helper()
	dir, err := os.MkdirTemp("", "jr")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "socket")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); os.RemoveAll(dir) })
	got := make(chan []byte, 1000)
	go func() {
		buf := make([]byte, 256<<10)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- append([]byte(nil), buf[:n]...)
		}
	}()
	return path, got, func() { conn.Close() }
}

// TestJournalGetsEachLine: with logs.to journal, each line of a process
// is one journal entry with its port and pid, a line longer than MaxLine
// comes in pieces, and no file is written.
func TestJournalGetsEachLine(t *testing.T) {
	path, got, _ := fakeJournal(t)
	j, err := DialJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	dir := t.TempDir()
	l := mustOpen(t, 8001, Options{Dir: dir, NoFile: true, Sinks: []Sink{j}})
	long := strings.Repeat("z", MaxLine+10)
	write(t, l, "first\nsecond\n"+long+"\nlast without newline")
	want := []string{"first", "second", long[:MaxLine], long[MaxLine:], "last without newline"}
	for i, msg := range want {
		select {
		case b := <-got:
			f := parseEntry(t, b)
			if f["MESSAGE"] != msg || f["HELLOMGR_PORT"] != "8001" || f["HELLOMGR_PID"] != "4242" || f["SYSLOG_IDENTIFIER"] != "hellomgr-8001" || f["PRIORITY"] != "6" {
				t.Errorf("entry %d: MESSAGE %.30q (%d bytes), fields %v; want %.30q for port 8001, pid 4242", i, f["MESSAGE"], len(f["MESSAGE"]), len(f), msg)
			}
		case <-time.After(waitLimit):
			t.Fatalf("entry %d (%.30q) never came", i, msg)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("logs.to journal wrote %d files", len(entries))
	}
	if l.Dropped() != 0 {
		t.Errorf("Dropped() = %d, want 0", l.Dropped())
	}
}

// TestJournalGoneDropsAndCounts: lines the journal refuses (it went
// away) are counted as dropped, with one warning.
func TestJournalGoneDropsAndCounts(t *testing.T) {
	path, _, stop := fakeJournal(t)
	j, err := DialJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	stop()
	var logged lockedBuffer
	l := mustOpen(t, 8001, Options{NoFile: true, Sinks: []Sink{j}, Log: logger(&logged)})
	write(t, l, lines("gone ", 1, 5))
	if l.Dropped() != 5 {
		t.Errorf("Dropped() = %d, want 5", l.Dropped())
	}
	if n := strings.Count(logged.String(), "cannot send instance output to the journal"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logged.String())
	}
}

// TestIsJournal: a file is the journal's stream when JOURNAL_STREAM
// names its device and inode.
func TestIsJournal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stream")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	st := fi.Sys().(*syscall.Stat_t)
	stream := strconv.FormatUint(st.Dev, 10) + ":" + strconv.FormatUint(st.Ino, 10)
	t.Setenv("JOURNAL_STREAM", "")
	if IsJournal(f) {
		t.Error("IsJournal without JOURNAL_STREAM: true")
	}
	t.Setenv("JOURNAL_STREAM", stream)
	if !IsJournal(f) {
		t.Errorf("IsJournal with JOURNAL_STREAM=%s, its device and inode: false", stream)
	}
	if IsJournal(os.Stderr) || IsJournal(&bytes.Buffer{}) {
		t.Error("IsJournal of another file or of a buffer: true")
	}
}
