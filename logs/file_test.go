package logs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRotationKeepsMaxFiles writes 5 MiB into a log limited to 1 MiB and
// 2 old files: each file stays within the limit, no line is cut in two,
// only the two newest old files remain, and every file has mode 0644.
func TestRotationKeepsMaxFiles(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, 8001, Options{Dir: dir, MaxSize: 1 << 20, MaxFiles: 2})
	line := strings.Repeat("x", 1023) + "\n"
	for range 5 {
		write(t, l, strings.Repeat(line, 1024))
	}
	old, _ := Backups(dir, 8001)
	if len(old) != 2 {
		t.Fatalf("%d old files kept, want max_files 2: %v", len(old), old)
	}
	for _, f := range append(old, File(dir, 8001)) {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != 1<<20 {
			t.Errorf("%s: %d bytes, want 1 MiB: whole lines, up to max_size", f, fi.Size())
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", f, fi.Mode().Perm())
		}
	}
}

// TestLogAppendsAcrossOpens: a new Log (a new manager) goes on at the end
// of the file, and the first move that would pass max_size rotates it.
func TestLogAppendsAcrossOpens(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(File(dir, 8001), []byte("before\n"), 0o644)
	l := mustOpen(t, 8001, Options{Dir: dir, MaxSize: 1 << 20, MaxFiles: 2})
	write(t, l, "after\n")
	if got := read(t, File(dir, 8001)); got != "before\nafter\n" {
		t.Errorf("got %q, want the new line after the old", got)
	}
}

func TestBackupsIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{
		"8001-2024-05-01T10-00-00.000.log", "8001-2023-12-31T23-59-59.999.log", "8001.log",
		"8001-notes.log", "80010-2024-05-01T10-00-00.000.log", "8002-2024-05-01T10-00-00.000.log",
	} {
		os.WriteFile(filepath.Join(dir, name), nil, 0o644)
	}
	got, err := Backups(dir, 8001)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(dir, "8001-2023-12-31T23-59-59.999.log"),
		filepath.Join(dir, "8001-2024-05-01T10-00-00.000.log"),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestOpenRefusesALink: the current file is never opened through a
// symbolic link, and rotation renames a link planted in its place aside
// without following it.
func TestOpenRefusesALink(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(t.TempDir(), "precious")
	os.WriteFile(precious, []byte("precious\n"), 0o600)
	os.Symlink(precious, File(dir, 8001))
	if _, err := Open(8001, Options{Dir: dir, MaxSize: 1 << 20, MaxFiles: 2}); err == nil {
		t.Error("Open followed a symbolic link")
	}
	if got := read(t, precious); got != "precious\n" {
		t.Errorf("the link's target now holds %q", got)
	}
}

// TestLogClosed: lines after Close are dropped, never written into a
// file created again; Close is safe to call twice.
func TestLogClosed(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, 8001, Options{Dir: dir, MaxSize: 1 << 20, MaxFiles: 1})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(File(dir, 8001))
	write(t, l, "late\n")
	if _, err := os.Stat(File(dir, 8001)); err == nil {
		t.Error("a line after Close created the log file again")
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestFullDiskDropsCountsAndRecovers fills a 64 KiB tmpfs: the process is
// never blocked (Take reads its pipe to the end), the lines that did not
// fit are counted per port with one warning, and once there is room again
// lines reach the file and the recovery is logged with the count.
func TestFullDiskDropsCountsAndRecovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tmpfs")
	os.Mkdir(dir, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a 64 KiB tmpfs (the test needs root, as CI runs): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	filler := filepath.Join(dir, "filler")
	os.WriteFile(filler, make([]byte, 32<<10), 0o644)

	var logged lockedBuffer
	l := mustOpen(t, 8001, Options{Dir: dir, MaxSize: 1 << 20, MaxFiles: 1, Log: logger(&logged)})
	const n = 10000 // 10 bytes each: 100 KB, more than the room left
	write(t, l, lines("line ", 100000, 100000+n-1))
	kept := strings.Count(read(t, File(dir, 8001)), "\n")
	if kept == 0 || kept == n {
		t.Fatalf("%d of %d lines in the file; want some, not all", kept, n)
	}
	// A line cut by the full disk is counted as dropped, not as kept.
	if got := l.Dropped(); got < uint64(n-kept) || got > uint64(n-kept+1) {
		t.Errorf("Dropped() = %d, want %d (the lines that did not fit)", got, n-kept)
	}
	if got := strings.Count(logged.String(), "cannot write instance output"); got != 1 {
		t.Errorf("%d warnings, want 1:\n%s", got, logged.String())
	}
	dropped := l.Dropped()
	os.Remove(filler)
	write(t, l, "\nkept\n")
	if got := read(t, File(dir, 8001)); !strings.HasSuffix(got, "\nkept\n") {
		t.Errorf("after the disk has room: file ends %q, want the new line", got[max(0, len(got)-40):])
	}
	if l.Dropped() != dropped {
		t.Errorf("Dropped() went from %d to %d with room on the disk", dropped, l.Dropped())
	}
	if !strings.Contains(logged.String(), "reaches its log again") {
		t.Errorf("recovery not logged:\n%s", logged.String())
	}
}

// TestRemovedFolderDropsAndRecovers: a log whose folder is removed (and
// replaced by a file, so not even root can write there) drops its lines,
// counting them, with one warning; once the folder is back, the file is
// created again and the lines reach it.
func TestRemovedFolderDropsAndRecovers(t *testing.T) {
	defer func(d time.Duration) { checkEvery = d }(checkEvery)
	checkEvery = 10 * time.Millisecond
	dir := filepath.Join(t.TempDir(), "logs")
	os.Mkdir(dir, 0o755)
	var logged lockedBuffer
	l := mustOpen(t, 8001, Options{Dir: dir, MaxSize: 1 << 20, MaxFiles: 1, Log: logger(&logged)})
	os.RemoveAll(dir)
	os.WriteFile(dir, nil, 0o644)
	time.Sleep(2 * checkEvery)
	write(t, l, "lost 1\nlost 2\n")
	if got := l.Dropped(); got != 2 {
		t.Errorf("Dropped() = %d, want 2", got)
	}
	if got := strings.Count(logged.String(), "cannot write instance output"); got != 1 {
		t.Errorf("%d warnings, want 1:\n%s", got, logged.String())
	}
	os.Remove(dir)
	os.Mkdir(dir, 0o755)
	time.Sleep(2 * checkEvery)
	write(t, l, "kept\n")
	if got := read(t, File(dir, 8001)); got != "kept\n" {
		t.Errorf("log after recovery: got %q, want %q", got, "kept\n")
	}
	if !strings.Contains(logged.String(), "reaches its log again") {
		t.Errorf("recovery not logged:\n%s", logged.String())
	}
}
