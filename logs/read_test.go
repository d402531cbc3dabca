package logs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTailAcrossRotatedFiles: just after a rotation the current file is
// short, and the lines asked for come from the newest old files.
func TestTailAcrossRotatedFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "8001-2024-05-01T10-00-00.000.log"), []byte(lines("a", 1, 10)), 0o644)
	os.WriteFile(filepath.Join(dir, "8001-2024-05-01T11-00-00.000.log"), []byte(lines("a", 11, 12)), 0o644)
	os.WriteFile(File(dir, 8001), []byte(lines("a", 13, 14)), 0o644)
	for _, tc := range []struct {
		n    int
		want string
	}{{1, lines("a", 14, 14)}, {2, lines("a", 13, 14)}, {6, lines("a", 9, 14)}, {100, lines("a", 1, 14)}} {
		got, err := Tail(dir, 8001, tc.n)
		if err != nil || strings.Join(got, "\n")+"\n" != tc.want {
			t.Errorf("Tail(%d): got %q, %v; want %q", tc.n, got, err, tc.want)
		}
	}
	os.Remove(File(dir, 8001))
	if got, err := Tail(dir, 8001, 3); !errors.Is(err, fs.ErrNotExist) || strings.Join(got, "\n")+"\n" != lines("a", 10, 12) {
		t.Errorf("Tail without a current file: got %q, %v; want the rotated lines and fs.ErrNotExist", got, err)
	}
}

func TestLastLines(t *testing.T) {
	long := lines("line ", 1, 20000) // about 200 KB: several 64 KB chunks
	for _, tc := range []struct {
		text string
		n    int
		want []string
	}{
		{"", 5, nil},
		{"one\n", 0, nil},
		{"one\n", 5, []string{"one"}},
		{"\n", 5, []string{""}},
		{"one\ntwo", 1, []string{"two"}},
		{"one\n\nthree\n", 2, []string{"", "three"}},
		{long, 3, []string{"line 19998", "line 19999", "line 20000"}},
		{long, 20000, strings.Split(strings.TrimSuffix(long, "\n"), "\n")},
	} {
		got, err := LastLines(strings.NewReader(tc.text), int64(len(tc.text)), tc.n)
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("LastLines(%.20q, %d): got %d lines %.60q, %v; want %d lines", tc.text, tc.n, len(got), got, err, len(tc.want))
		}
	}
}

// follow collects what a follower emits.
type collected struct{ lines []string }

func (c *collected) emit(line []byte) { c.lines = append(c.lines, string(line)) }

func (c *collected) take() string {
	s := strings.Join(c.lines, "\n")
	c.lines = nil
	return s
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(text)
}

// TestFollowerAcrossRenames: a follower finishes the file renamed aside
// (a line begun before the rename included), then reads the next one;
// when rotation went twice between two polls it reads the rotated file in
// between too, in order; between the rename and the new file it waits.
func TestFollowerAcrossRenames(t *testing.T) {
	dir := t.TempDir()
	cur := File(dir, 8001)
	aside := func(stamp string) string { return filepath.Join(dir, "8001-2024-05-01T10-00-"+stamp+".log") }
	appendTo(t, cur, "old\n")
	fl := NewFollower(dir, 8001)
	defer fl.Close()
	var c collected
	if got, err := fl.Tail(5); err != nil || strings.Join(got, "|") != "old" {
		t.Fatalf("Tail: %q, %v", got, err)
	}
	appendTo(t, cur, "one\nhalf ")
	poll := func(want string) {
		t.Helper()
		if err := fl.Poll(c.emit); err != nil {
			t.Fatal(err)
		}
		if got := c.take(); got != want {
			t.Errorf("Poll: got %q, want %q", got, want)
		}
	}
	poll("one")
	appendTo(t, cur, "line\nlast before rotation")
	os.Rename(cur, aside("00.000"))
	poll("half line") // the new file does not exist yet
	appendTo(t, cur, "first after rotation\n")
	poll("last before rotation\nfirst after rotation")

	// Two rotations between two polls.
	appendTo(t, cur, "two\n")
	os.Rename(cur, aside("01.000"))
	appendTo(t, cur, "three\n")
	os.Rename(cur, aside("02.000"))
	appendTo(t, cur, "four\n")
	poll("two\nthree\nfour")

	// A restart writes on in the same file.
	appendTo(t, cur, "five\n")
	poll("five")
}

// TestFollowerWaitsForTheFile: a log that does not exist yet is read
// from its start once created.
func TestFollowerWaitsForTheFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "8001-2024-04-01T10-00-00.000.log"), []byte("before the follower\n"), 0o644)
	fl := NewFollower(dir, 8001)
	defer fl.Close()
	if _, err := fl.Tail(5); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Tail of no file: %v, want fs.ErrNotExist", err)
	}
	var c collected
	fl.Poll(c.emit)
	// Written and rotated twice before the follower looks again: it
	// starts with the first file written.
	cur := File(dir, 8001)
	appendTo(t, cur, "first\n")
	os.Rename(cur, filepath.Join(dir, "8001-2024-05-01T10-00-00.000.log"))
	appendTo(t, cur, "second\n")
	os.Rename(cur, filepath.Join(dir, "8001-2024-05-01T10-00-01.000.log"))
	appendTo(t, cur, "third\n")
	fl.Poll(c.emit)
	if got := c.take(); got != "first\nsecond\nthird" {
		t.Errorf("got %q, want the three lines", got)
	}
}
