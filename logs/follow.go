package logs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Follower reads one port's log as it is written, by name: when rotation
// renames the file it reads aside, it finishes that file to its end, then
// goes on with the next one, the next rotated file if rotation went
// further meanwhile, so that it sees every line once, in order, as long
// as the rotated files it still has to read are kept (logs.max_files).
// A restarted instance goes on in the same file: nothing changes.
type Follower struct {
	dir  string
	port int
	f    *os.File // the file being read; nil until one exists
	off  int64    // how far f has been read
	part []byte   // the start of a line not yet ended
	buf  []byte
	// before are the rotated files there were when the follower was
	// made: until it has a file, a rotated file not among them is new,
	// and read first.
	before map[string]bool
}

// NewFollower returns a follower of port's log under dir that starts at
// the start of its current file, or, if that does not exist yet, of the
// first file written from now on (Tail moves it to the end of the
// current file).
func NewFollower(dir string, port int) *Follower {
	fl := &Follower{dir: dir, port: port, before: map[string]bool{}}
	old, _ := Backups(dir, port)
	for _, name := range old {
		fl.before[name] = true
	}
	return fl
}

// Tail returns the last n lines of the log (see Tail) and leaves the
// follower at the end of the current file. A missing file is
// fs.ErrNotExist; the follower then starts with the file once created.
func (fl *Follower) Tail(n int) ([]string, error) {
	f, err := os.Open(File(fl.dir, fl.port))
	if err != nil {
		more, merr := backupsTail(fl.dir, fl.port, n)
		if merr != nil {
			return nil, merr
		}
		return more, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	fl.close()
	fl.f, fl.off = f, fi.Size()
	lines, err := LastLines(f, fi.Size(), n)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	more, err := backupsTail(fl.dir, fl.port, n-len(lines))
	return append(more, lines...), err
}

// Poll calls emit with every line written since the last call, across
// rotations, without its newline. A line not yet ended waits for the
// next call (one longer than MaxLine is given in pieces).
func (fl *Follower) Poll(emit func(line []byte)) error {
	if fl.f == nil {
		f, err := fl.first()
		if f == nil || err != nil {
			return err // not created yet
		}
		fl.f, fl.off = f, 0
	}
	for {
		if err := fl.emitNew(emit); err != nil {
			return err
		}
		was, err := fl.f.Stat()
		if err != nil {
			return err
		}
		if now, err := os.Stat(File(fl.dir, fl.port)); err == nil && os.SameFile(now, was) {
			return nil // still the current file
		}
		// Renamed aside: the log wrote its last bytes to it before the
		// rename, so one more read finishes it.
		if err := fl.emitNew(emit); err != nil {
			return err
		}
		next, err := fl.next(was)
		if next == nil || err != nil {
			return err // between the rename and the new file: next time
		}
		if len(fl.part) > 0 {
			emit(fl.part)
			fl.part = fl.part[:0]
		}
		fl.f.Close()
		fl.f, fl.off = next, 0
	}
}

// first opens the first file to read when the follower had none: the
// oldest rotated file made since the follower was, else the current file.
func (fl *Follower) first() (*os.File, error) {
	old, _ := Backups(fl.dir, fl.port)
	for _, name := range old {
		if !fl.before[name] {
			if f, err := os.Open(name); err == nil {
				return f, nil
			}
		}
	}
	f, err := os.Open(File(fl.dir, fl.port))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return f, err
}

// next opens the file that follows the one read (was): the rotated file
// after it when there is one, else the current file; nil when neither
// exists yet.
func (fl *Follower) next(was os.FileInfo) (*os.File, error) {
	cur, err := os.Open(File(fl.dir, fl.port))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	old, _ := Backups(fl.dir, fl.port)
	for i, name := range old {
		if fi, err := os.Stat(name); err != nil || !os.SameFile(fi, was) {
			continue
		}
		if i+1 < len(old) {
			if f, err := os.Open(old[i+1]); err == nil {
				if cur != nil {
					cur.Close()
				}
				return f, nil
			}
		}
		break
	}
	return cur, nil
}

// emitNew gives the whole lines between the offset and the end of the
// file, keeping a line not yet ended for the next time.
func (fl *Follower) emitNew(emit func([]byte)) error {
	if fl.buf == nil {
		fl.buf = make([]byte, 64<<10)
	}
	s := splitter{part: fl.part}
	for {
		n, err := fl.f.ReadAt(fl.buf, fl.off)
		fl.off += int64(n)
		s.write(fl.buf[:n], emit)
		if errors.Is(err, io.EOF) || n == 0 {
			fl.part = s.part
			return nil
		}
		if err != nil {
			fl.part = s.part
			return fmt.Errorf("read %s: %w", fl.f.Name(), err)
		}
	}
}

// Close closes the file being read.
func (fl *Follower) Close() { fl.close() }

func (fl *Follower) close() {
	if fl.f != nil {
		fl.f.Close()
		fl.f = nil
	}
}
