package logs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// JournalSocket is journald's native socket; HELLOMGR_JOURNAL_SOCKET
// replaces it (tests point it at a socket of their own).
func JournalSocket() string {
	if p := os.Getenv("HELLOMGR_JOURNAL_SOCKET"); p != "" {
		return p
	}
	return "/run/systemd/journal/socket"
}

// IsJournal reports whether w is a file that is systemd's journal stream
// for this process: JOURNAL_STREAM names its device and inode, as
// systemd.exec(5) says to check before logging natively.
func IsJournal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	dev, ino, ok := strings.Cut(os.Getenv("JOURNAL_STREAM"), ":")
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && strconv.FormatUint(uint64(st.Dev), 10) == dev && strconv.FormatUint(st.Ino, 10) == ino
}

// Journal sends lines to systemd's journal through its native protocol:
// one datagram per line with the fields MESSAGE, PRIORITY=6,
// SYSLOG_IDENTIFIER=hellomgr-<port>, STREAM=output (stdout and stderr
// share one pipe), HELLOMGR_PORT and HELLOMGR_PID, so that
// `journalctl -u hellomgr HELLOMGR_PORT=8001` shows one port.
type Journal struct {
	conn *net.UnixConn
	mu   sync.Mutex
	buf  []byte
}

// DialJournal connects to the journal's socket at path (JournalSocket).
func DialJournal(path string) (*Journal, error) {
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("connect to the journal: %w", err)
	}
	return &Journal{conn: conn}, nil
}

// Line sends one line as one journal entry.
func (j *Journal) Line(port, pid int, line []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.buf = AppendEntry(j.buf[:0], port, pid, line)
	_, err := j.conn.Write(j.buf)
	if cap(j.buf) > 4*MaxLine {
		j.buf = nil
	}
	return err
}

// Close closes the connection.
func (j *Journal) Close() error { return j.conn.Close() }

// AppendEntry appends the native-protocol datagram of one line to b.
func AppendEntry(b []byte, port, pid int, line []byte) []byte {
	b = appendField(b, "MESSAGE", line)
	b = append(b, "PRIORITY=6\nSTREAM=output\nSYSLOG_IDENTIFIER=hellomgr-"...)
	b = strconv.AppendInt(b, int64(port), 10)
	b = append(b, "\nHELLOMGR_PORT="...)
	b = strconv.AppendInt(b, int64(port), 10)
	b = append(b, "\nHELLOMGR_PID="...)
	b = strconv.AppendInt(b, int64(pid), 10)
	return append(b, '\n')
}

// appendField appends KEY=value, or, for a value with a newline, the
// binary-safe form: KEY, a newline, the length as 64-bit little endian,
// the value, a newline.
func appendField(b []byte, key string, value []byte) []byte {
	b = append(b, key...)
	if bytes.IndexByte(value, '\n') < 0 {
		b = append(b, '=')
		b = append(b, value...)
		return append(b, '\n')
	}
	b = append(b, '\n')
	b = binary.LittleEndian.AppendUint64(b, uint64(len(value)))
	b = append(b, value...)
	return append(b, '\n')
}
