package manager

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// openLog opens (appending) the log file of one port.
func openLog(dir string, port int) (*os.File, error) {
	path := filepath.Join(dir, strconv.Itoa(port)+".log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of port %d: %w", port, err)
	}
	return f, nil
}

// checkLogDir creates the log folder and proves it writable, so `up`
// refuses to start rather than running instances whose output is lost.
func checkLogDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("log folder %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("log folder %s is not writable: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// console serialises whole lines from every instance onto one writer,
// each prefixed with its port, as `hellomgr up` shows them in the
// foreground.
type console struct {
	mu  sync.Mutex
	out io.Writer
}

// writer returns a line-buffered writer that prefixes each line with port.
func (c *console) writer(port int) io.Writer {
	return &prefixWriter{c: c, prefix: []byte(fmt.Sprintf("%d | ", port))}
}

type prefixWriter struct {
	c      *console
	prefix []byte
	mu     sync.Mutex
	part   []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	data := append(w.part, p...)
	var buf bytes.Buffer
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		buf.Write(w.prefix)
		buf.Write(data[:i+1])
		data = data[i+1:]
	}
	w.part = append(w.part[:0], data...)
	if buf.Len() > 0 {
		w.c.mu.Lock()
		w.c.out.Write(buf.Bytes())
		w.c.mu.Unlock()
	}
	return len(p), nil
}
