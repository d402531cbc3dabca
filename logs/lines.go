package logs

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
)

// splitter cuts a stream into lines of at most MaxLine bytes, holding at
// most MaxLine bytes of a line not yet ended.
type splitter struct {
	part []byte
}

// write calls emit with every line p completes, without its newline.
func (s *splitter) write(p []byte, emit func([]byte)) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := MaxLine - len(s.part)
			if len(p) < room {
				s.part = append(s.part, p...)
				return
			}
			s.part = append(s.part, p[:room]...)
			emit(s.part) // a line that long is given in pieces
			s.part, p = s.part[:0], p[room:]
			continue
		}
		line := p[:i]
		if len(s.part) > 0 {
			line = append(s.part, line...)
		}
		for len(line) > MaxLine {
			emit(line[:MaxLine])
			line = line[MaxLine:]
		}
		emit(line)
		s.part, p = s.part[:0], p[i+1:]
	}
}

// flush gives a last line that was never ended.
func (s *splitter) flush(emit func([]byte)) {
	if len(s.part) > 0 {
		emit(s.part)
		s.part = s.part[:0]
	}
}

// ring keeps the last lines given to it.
type ring struct {
	mu    sync.Mutex
	lines []string
	max   int
}

func newRing(max int) *ring { return &ring{max: max} }

func (r *ring) add(line []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) == r.max {
		copy(r.lines, r.lines[1:])
		r.lines = r.lines[:r.max-1]
	}
	r.lines = append(r.lines, string(line))
}

func (r *ring) reset() {
	r.mu.Lock()
	r.lines = r.lines[:0]
	r.mu.Unlock()
}

// String returns the last n lines kept, joined by newlines.
func (r *ring) String(n int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines[max(len(r.lines)-n, 0):], "\n")
}

// Console writes every port's lines to one writer, each prefixed with its
// port ("8001 | "), whole lines only, as `hellomgr up` shows them in the
// foreground.
type Console struct {
	mu  sync.Mutex
	out io.Writer
	buf []byte
}

// NewConsole returns a Console writing to out.
func NewConsole(out io.Writer) *Console { return &Console{out: out} }

// Line writes one line with its port's prefix.
func (c *Console) Line(port, _ int, line []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = fmt.Appendf(c.buf[:0], "%d | ", port)
	c.buf = append(append(c.buf, line...), '\n')
	c.out.Write(c.buf)
	if cap(c.buf) > 4*MaxLine {
		c.buf = nil // one long line must not keep its buffer
	}
	return nil // a console that fails loses its echo, not the lines
}
