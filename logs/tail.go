package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

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
	if n <= 0 || size == 0 {
		return nil, nil
	}
	const chunk = 64 << 10
	var buf []byte
	off := size
	// n+1 newlines guarantee n whole lines before the last one.
	for off > 0 && bytes.Count(buf, []byte("\n")) <= n {
		step := min(chunk, off)
		off -= step
		b := make([]byte, step)
		if _, err := r.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		buf = append(b, buf...)
	}
	lines := strings.Split(strings.TrimSuffix(string(buf), "\n"), "\n")
	return lines[max(0, len(lines)-n):], nil
}
