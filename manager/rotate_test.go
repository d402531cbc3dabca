package manager

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/config"
)

func TestRotateCopiesAsideTruncatesAndKeepsMaxFiles(t *testing.T) {
	cfg := config.Logs{Dir: t.TempDir(), MaxSizeMB: 1, MaxFiles: 2}
	f, err := openDirect(cfg, 8001)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := bytes.Repeat([]byte("x"), 1023)
	line = append(line, '\n')
	for round := range 3 {
		for range 1100 { // a little over 1 MiB, as an instance would write it
			f.Write(line)
		}
		if err := rotate(cfg, 8001); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(LogFile(cfg.Dir, 8001)); fi.Size() != 0 {
			t.Fatalf("round %d: log is %d bytes after rotation, want 0", round, fi.Size())
		}
		time.Sleep(2 * time.Millisecond) // distinct time stamps
	}
	old, _ := LogBackups(cfg.Dir, 8001)
	if len(old) != 2 {
		t.Fatalf("%d old files kept, want max_files 2: %v", len(old), old)
	}
	if fi, _ := os.Stat(old[1]); fi.Size() != 1100*1024 {
		t.Errorf("newest old file is %d bytes, want the %d the log held", fi.Size(), 1100*1024)
	}
	// The instance's next line lands at the start of the emptied file.
	f.Write([]byte("after\n"))
	if b, _ := os.ReadFile(LogFile(cfg.Dir, 8001)); string(b) != "after\n" {
		t.Errorf("log after rotation holds %q, want the new line alone", b)
	}
	// Under the size, nothing happens.
	if err := rotate(cfg, 8001); err != nil {
		t.Fatal(err)
	}
	if again, _ := LogBackups(cfg.Dir, 8001); len(again) != 2 {
		t.Errorf("a small log was rotated: %v", again)
	}
}
