package logs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"time"
)

// Printer prints some ports' logs to one writer, as `hellomgr logs`
// shows them: first the last lines of each (Tail), then every line as
// it is written (Follow).
type Printer struct {
	out       *bufio.Writer
	dir       string
	followers []*follower
}

// follower reads one port's log, each line printed with its prefix.
type follower struct {
	*Follower
	port   int
	prefix string
}

// NewPrinter returns a printer of the logs of ports under dir, to w;
// with prefixed, each line starts with "PORT | ". Close it when done.
func NewPrinter(w io.Writer, dir string, ports []int, prefixed bool) *Printer {
	p := &Printer{out: bufio.NewWriter(w), dir: dir, followers: make([]*follower, len(ports))}
	for i, port := range ports {
		p.followers[i] = &follower{Follower: NewFollower(dir, port), port: port}
		if prefixed {
			p.followers[i].prefix = strconv.Itoa(port) + " | "
		}
	}
	return p
}

// Tail prints the last n lines of each port's log, port after port, and
// leaves each follower at the end of its current file. missing, when
// set, is called for a port that has no log at all yet. It copies the
// lines from the files as it prints them, so any n takes the same memory.
func (p *Printer) Tail(n int, missing func(port int)) error {
	for _, fl := range p.followers {
		if err := p.tail(fl, n, missing); err != nil {
			return err
		}
	}
	return nil
}

func (p *Printer) tail(fl *follower, n int, missing func(port int)) error {
	_, err := fl.Tail(0) // the follower goes to the end of the current file
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	segs, closeAll, serr := tailSegments(fl.dir, fl.port, fl.f, fl.off, n)
	defer closeAll()
	if serr != nil {
		return serr
	}
	if err != nil && len(segs) == 0 && missing != nil {
		missing(fl.port)
	}
	for _, s := range segs {
		if err := fl.copyLines(p.out, s); err != nil {
			return err
		}
	}
	return nil
}

// copyLines prints the lines of s, each with its prefix; a last line
// without its newline gets one.
func (fl *follower) copyLines(w *bufio.Writer, s segment) error {
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, s.start, s.end-s.start), tailChunk)
	inLine := false // a piece of the line was printed, with its prefix
	for {
		chunk, err := r.ReadSlice('\n')
		if len(chunk) > 0 {
			if !inLine {
				w.WriteString(fl.prefix)
			}
			w.Write(chunk)
			inLine = chunk[len(chunk)-1] != '\n'
		}
		switch {
		case errors.Is(err, io.EOF):
			if inLine {
				w.WriteByte('\n')
			}
			return nil
		case errors.Is(err, bufio.ErrBufferFull):
			// a line longer than the buffer: its next piece
		case err != nil:
			return fmt.Errorf("read %s: %w", s.f.Name(), err)
		}
	}
}

// followEvery is how often Follow looks for new lines when inotify says
// nothing (a file system without it): a follower that falls behind
// catches up through the rotated files.
const followEvery = 250 * time.Millisecond

// Follow prints every line written since Tail (or since the printer was
// made), across rotations and restarts, until ctx ends (nil) or the
// writer fails. It looks as soon as inotify says the folder was written
// (a line shows within a few milliseconds of reaching its file), and
// every followEvery in any case.
func (p *Printer) Follow(ctx context.Context) error {
	tick := time.NewTicker(followEvery)
	defer tick.Stop()
	watch := watchDir(p.dir)
	defer watch.close()
	for {
		for _, fl := range p.followers {
			if err := fl.Poll(func(line []byte) { fl.emit(p.out, line) }); err != nil {
				return err
			}
		}
		if err := p.out.Flush(); err != nil {
			return err // the writer is closed: nobody is reading any more
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-watch.C():
		}
	}
}

// Close closes the logs and writes out what is still buffered.
func (p *Printer) Close() error {
	for _, fl := range p.followers {
		fl.Close()
	}
	return p.out.Flush()
}

func (fl *follower) emit(w *bufio.Writer, line []byte) {
	w.WriteString(fl.prefix)
	w.Write(line)
	w.WriteByte('\n')
}
