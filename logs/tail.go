package logs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Reading a tail never holds more of a log in memory than what it
// returns (Tail, LastLines: a few lines for a failed start) or one read
// of tailChunk bytes (Printer.Tail, which copies the lines out as it
// goes: `hellomgr logs -n 100000000` of a 142 MB log took 465 MB).

// Tail returns the last n lines of port's log under dir, without their
// newlines: from its current file and, when that holds fewer, from the
// files rotation renamed aside, newest first. A missing current file is
// fs.ErrNotExist (with the rotated files' lines, if any).
func Tail(dir string, port, n int) ([]string, error) {
	lines, _, err := fileTail(File(dir, port), n)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	more, merr := backupsTail(dir, port, n-len(lines))
	if merr != nil {
		return nil, merr
	}
	return append(more, lines...), err
}

// backupsTail returns the last n lines of the rotated files.
func backupsTail(dir string, port, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	old, err := Backups(dir, port)
	var lines []string
	for i := len(old) - 1; i >= 0 && err == nil && len(lines) < n; i-- {
		more, _, ferr := fileTail(old[i], n-len(lines))
		if errors.Is(ferr, fs.ErrNotExist) {
			continue // deleted by rotation since the listing
		}
		lines, err = append(more, lines...), ferr
	}
	return lines, err
}

// fileTail returns the last n lines of the file at path and its size.
func fileTail(path string, n int) ([]string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	lines, err := LastLines(f, fi.Size(), n)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	return lines, fi.Size(), nil
}

// LastLines returns the last n lines in the first size bytes of r,
// without their newlines, reading backwards only as far as it needs to.
func LastLines(r io.ReaderAt, size int64, n int) ([]string, error) {
	start, _, err := tailStart(r, size, n)
	if err != nil || start == size {
		return nil, err
	}
	buf := make([]byte, size-start)
	if _, err := r.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return strings.Split(strings.TrimSuffix(string(buf), "\n"), "\n"), nil
}

// tailChunk is how much tailStart reads at a time.
const tailChunk = 64 << 10

// tailStart returns where the last n lines of the first size bytes of r
// begin, and how many lines there are from there (n, or fewer when that
// is all there is), reading backwards one chunk at a time. A last line
// without its newline counts as a line.
func tailStart(r io.ReaderAt, size int64, n int) (start int64, lines int, err error) {
	if n <= 0 || size == 0 {
		return size, 0, nil
	}
	buf := make([]byte, min(tailChunk, size))
	newlines := 0 // those that begin a line, so not the very last byte
	for off := size; off > 0; {
		step := min(int64(len(buf)), off)
		off -= step
		b := buf[:step]
		if _, err := r.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			return 0, 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != '\n' || off+int64(i) == size-1 {
				continue
			}
			if newlines++; newlines == n {
				return off + int64(i) + 1, n, nil
			}
		}
	}
	return 0, newlines + 1, nil
}

// segment is a part of one log file to print: bytes [start, end) of f.
type segment struct {
	f          *os.File
	start, end int64
}

// tailSegments returns where the last n lines of port's log are: the
// end of current (read up to size; nil when there is none), and, when
// that holds fewer, of the rotated files, oldest first. The caller
// closes the rotated files, close does.
func tailSegments(dir string, port int, current *os.File, size int64, n int) (segs []segment, close func(), err error) {
	var opened []*os.File
	close = func() {
		for _, f := range opened {
			f.Close()
		}
	}
	add := func(f *os.File, size int64) error {
		start, got, err := tailStart(f, size, n)
		if err != nil {
			return fmt.Errorf("read %s: %w", f.Name(), err)
		}
		if start < size {
			segs = append([]segment{{f, start, size}}, segs...)
		}
		n -= got
		return nil
	}
	if current != nil {
		if err := add(current, size); err != nil {
			return nil, close, err
		}
	}
	old, err := Backups(dir, port)
	for i := len(old) - 1; i >= 0 && err == nil && n > 0; i-- {
		f, ferr := os.Open(old[i])
		if errors.Is(ferr, fs.ErrNotExist) {
			continue // deleted by rotation since the listing
		}
		if ferr != nil {
			return nil, close, ferr
		}
		opened = append(opened, f)
		var fi os.FileInfo
		if fi, err = f.Stat(); err == nil {
			err = add(f, fi.Size())
		}
	}
	return segs, close, err
}
