package logs

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// sinkFunc records lines given to a sink.
type recorder struct {
	mu    sync.Mutex
	lines []string
	max   int
}

func (r *recorder) Line(port, pid int, line []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, string(line))
	r.max = max(r.max, len(line))
	return nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

func TestConsolePrefixesWholeLines(t *testing.T) {
	var out bytes.Buffer
	c := NewConsole(&out)
	var a, b splitter
	emit := func(port int) func([]byte) { return func(l []byte) { c.Line(port, 0, l) } }
	a.write([]byte("hel"), emit(8001))
	b.write([]byte("one\ntw"), emit(8002))
	a.write([]byte("lo\n"), emit(8001))
	b.write([]byte("o\n"), emit(8002))
	want := "8002 | one\n8001 | hello\n8002 | two\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// TestEndlessLineIsSplit: a process that writes one 1 MiB line without a
// newline reaches a sink in pieces of at most MaxLine, whether the lines
// are read for the sinks alone (logs.to: journal) or duplicated beside
// the file (a console), and the file holds it whole.
func TestEndlessLineIsSplit(t *testing.T) {
	endless := strings.Repeat("x", 1<<20)
	for _, noFile := range []bool{true, false} {
		dir := t.TempDir()
		var r recorder
		l := mustOpen(t, 8001, Options{Dir: dir, MaxSize: 2 << 20, MaxFiles: 1, NoFile: noFile, Sinks: []Sink{&r}})
		write(t, l, endless+"\nafter\n")
		waitFor(t, "the line after", func() bool {
			got := r.got()
			return len(got) > 0 && got[len(got)-1] == "after"
		})
		got := r.got()
		if joined := strings.Join(got[:len(got)-1], ""); joined != endless || r.max > MaxLine {
			t.Errorf("noFile %v: %d pieces, longest %d bytes, %d bytes in all; want pieces of at most %d making up the line", noFile, len(got)-1, r.max, len(joined), MaxLine)
		}
		if !noFile {
			if got := read(t, File(dir, 8001)); got != endless+"\nafter\n" {
				t.Errorf("file: %d bytes, want the line whole", len(got))
			}
		}
		if last := l.Last(1); noFile && last != "after" {
			t.Errorf("Last(1) = %q, want %q", last, "after")
		}
	}
}

func TestSplitterHoldsBoundedMemory(t *testing.T) {
	var s splitter
	n := 0
	for range 100 {
		s.write(bytes.Repeat([]byte("y"), 10000), func(l []byte) { n += len(l) })
		if cap(s.part) > 2*MaxLine {
			t.Fatalf("holds %d bytes of an unfinished line, want at most about %d", cap(s.part), MaxLine)
		}
	}
	s.flush(func(l []byte) { n += len(l) })
	if n != 100*10000 {
		t.Errorf("gave %d bytes, want %d", n, 100*10000)
	}
}
