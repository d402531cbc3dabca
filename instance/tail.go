package instance

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
)

// tail keeps the last few lines written to it, so a failed start can show
// why the instance died without re-reading its log file.
type tail struct {
	mu    sync.Mutex
	lines []string
	max   int
	part  []byte // an unfinished last line
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	data := append(t.part, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		t.add(string(data[:i]))
		data = data[i+1:]
	}
	// Keep a bounded partial line: a child printing without newlines must
	// not grow memory without limit.
	if len(data) > 4096 {
		data = data[len(data)-4096:]
	}
	t.part = append(t.part[:0], data...)
	return len(p), nil
}

func (t *tail) add(line string) {
	if len(t.lines) == t.max {
		copy(t.lines, t.lines[1:])
		t.lines = t.lines[:t.max-1]
	}
	t.lines = append(t.lines, line)
}

// String returns the kept lines, the unfinished one included.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if len(t.part) > 0 {
		lines = append(lines[:len(lines):len(lines)], string(t.part))
	}
	return strings.Join(lines, "\n")
}

// fileTail returns the last n lines of the file at path (read from its
// last 4 KiB), or "" when it cannot be read.
func fileTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const chunk = 4096
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-chunk, 0)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // the first may be cut
	}
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// reset forgets what was kept, at the start of each run.
func (t *tail) reset() {
	t.mu.Lock()
	t.lines, t.part = t.lines[:0], t.part[:0]
	t.mu.Unlock()
}
