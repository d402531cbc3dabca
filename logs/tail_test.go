package logs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// countingWriter counts what it is given and keeps its first and last
// lines.
type countingWriter struct {
	n           int64
	lines       int
	first, last []byte
	partial     []byte
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	size := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			break
		}
		line := append(w.partial, p[:i]...)
		if w.lines == 0 {
			w.first = bytes.Clone(line)
		}
		w.last = append(w.last[:0], line...) // no allocation per line: the test counts them
		w.partial = w.partial[:0]
		w.lines++
		p = p[i+1:]
	}
	return size, nil
}

// writeBig writes a rotated file and a current file for port 8001 of
// lines of 100 bytes, mb megabytes in all.
func writeBig(t *testing.T, dir string, mb int) int {
	t.Helper()
	n := mb << 20 / 100
	for f, path := range []string{filepath.Join(dir, "8001-2024-05-01T10-00-00.000.log"), File(dir, 8001)} {
		var b bytes.Buffer
		for i := f * n / 2; i < (f+1)*n/2; i++ {
			fmt.Fprintf(&b, "%-99d\n", i)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return n / 2 * 2
}

// `hellomgr logs -n 100000000` prints every line of a big log in bounded
// memory: it read them all into memory first (465 MB for 142 MB of logs).
func TestTailOfABigLogTakesBoundedMemory(t *testing.T) {
	dir := t.TempDir()
	total := writeBig(t, dir, 32)
	out := &countingWriter{}
	p := NewPrinter(out, dir, []int{8001}, true)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := p.Tail(100_000_000, nil); err != nil {
		t.Fatal(err)
	}
	p.Close()
	runtime.ReadMemStats(&after)
	if out.lines != total || !strings.HasPrefix(string(out.first), "8001 | 0 ") || !strings.HasPrefix(string(out.last), fmt.Sprintf("8001 | %d ", total-1)) {
		t.Fatalf("printed %d lines, %q ... %q; want %d, from 0 to %d", out.lines, out.first, out.last, total, total-1)
	}
	const limit = 4 << 20
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("printing %d lines (32 MB) allocated %d KB", total, got>>10)
	if got > limit {
		t.Errorf("printing 32 MB of logs allocated %d MB, want at most %d MB", got>>20, limit>>20)
	}
}

// The printer's tail is Tail's, line for line, however many lines are
// asked for and wherever they fall: across the rotated file, a last line
// without its newline, a line longer than a read.
func TestPrinterTailIsTail(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("L", 200<<10)
	os.WriteFile(filepath.Join(dir, "8001-2024-05-01T10-00-00.000.log"), []byte(lines("old", 1, 5)+long+"\n"+"olde"), 0o644)
	os.WriteFile(filepath.Join(dir, "8001-2024-05-01T11-00-00.000.log"), []byte(""), 0o644)
	os.WriteFile(File(dir, 8001), []byte(lines("a", 1, 5)+"\n"+long+"\n"+lines("b", 1, 3)), 0o644)
	for _, n := range []int{0, 1, 3, 4, 5, 8, 9, 10, 11, 12, 13, 100} {
		want, err := Tail(dir, 8001, n)
		if err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		p := NewPrinter(&got, dir, []int{8001}, false)
		if err := p.Tail(n, nil); err != nil {
			t.Fatal(err)
		}
		p.Close()
		wantText := ""
		if len(want) > 0 {
			wantText = strings.Join(want, "\n") + "\n"
		}
		if got.String() != wantText {
			t.Errorf("-n %d: got %d bytes %.80q, want %d bytes %.80q", n, got.Len(), got.String(), len(wantText), wantText)
		}
	}
}
