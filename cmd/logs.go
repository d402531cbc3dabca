package cmd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hellomgr/hellomgr/manager"
)

type logsOptions struct {
	config configFlag
	follow bool
	lines  int
}

func newLogs() *cobra.Command {
	var o logsOptions
	c := &cobra.Command{
		Use:   "logs [PORT]",
		Short: "Show the last lines of one port's log, or of every port's; -f follows them",
		Long: `logs prints the last lines (-n, default 20) of the instance log of PORT, or,
without PORT, of every configured port in turn, each line prefixed with
"PORT | ". The lines come from logs.dir, and from the files rotation renamed
aside when the current one is shorter. With -f it then prints lines as they
are written, across rotations, until Ctrl-C. It reads the files only: it
works with or without a running manager.`,
		Example: `  hellomgr logs            # the last 20 lines of every port
  hellomgr logs 8002 -n 100
  hellomgr logs -f         # follow every port`,
		Args:              maxArgs(1),
		ValidArgsFunction: completePorts(&o.config, 1),
		RunE: func(c *cobra.Command, args []string) error {
			return o.run(c.Context(), args, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	o.config.register(c)
	c.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep printing lines as they are written, until Ctrl-C")
	c.Flags().IntVarP(&o.lines, "lines", "n", 20, "how many of the last lines to print first, per port")
	return c
}

// maxArgs is cobra.MaximumNArgs with the error marked as a usage error.
func maxArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := cobra.MaximumNArgs(n)(c, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func (o *logsOptions) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := o.config.load()
	if err != nil {
		return err
	}
	if o.lines < 0 {
		return usageError{fmt.Errorf("-n must be 0 or more, got %d", o.lines)}
	}
	ports, prefixed := cfg.Ports, true
	if len(args) == 1 {
		port, err := strconv.Atoi(args[0])
		if err != nil || !slices.Contains(cfg.Ports, port) {
			return usageError{fmt.Errorf("port %s is not in %s (configured: %s)", args[0], cfg.File, joinPorts(cfg.Ports))}
		}
		ports, prefixed = []int{port}, false
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	followers := make([]*follower, len(ports))
	defer func() {
		for _, fl := range followers {
			if fl != nil && fl.f != nil {
				fl.f.Close()
			}
		}
	}()
	for i, port := range ports {
		fl := &follower{path: manager.LogFile(cfg.Logs.Dir, port)}
		if prefixed {
			fl.prefix = strconv.Itoa(port) + " | "
		}
		lines, err := fl.tail(cfg.Logs.Dir, port, o.lines)
		if errors.Is(err, fs.ErrNotExist) && !o.follow {
			fmt.Fprintf(stderr, "hellomgr: port %d has no log yet (%s)\n", port, fl.path)
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for _, line := range lines {
			fl.emit(out, line)
		}
		followers[i] = fl
	}
	if !o.follow {
		return nil
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return follow(ctx, followers, out)
}

// follower reads one port's log: its tail first, then what is appended.
type follower struct {
	path   string
	prefix string
	f      *os.File // the file being read, nil until it exists
	off    int64    // how far f has been read
	part   []byte   // the start of a line not yet ended
}

// tail opens the port's current log and returns its last n lines, with
// lines from the files renamed aside by rotation before them when the
// current one has fewer. The follower is left at the end of what it read.
func (fl *follower) tail(dir string, port, n int) ([]string, error) {
	f, err := os.Open(fl.path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	fl.f, fl.off = f, fi.Size()
	lines, err := lastLines(f, fi.Size(), n)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", fl.path, err)
	}
	old, err := manager.LogBackups(dir, port)
	for i := len(old) - 1; i >= 0 && err == nil && len(lines) < n; i-- {
		more, ferr := fileLastLines(old[i], n-len(lines))
		if errors.Is(ferr, fs.ErrNotExist) {
			continue // deleted by rotation since the listing
		}
		lines, err = append(more, lines...), ferr
	}
	return lines, err
}

func fileLastLines(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	lines, err := lastLines(f, fi.Size(), n)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return lines, nil
}

// lastLines returns the last n lines in the first size bytes of r, without
// their newlines, reading backwards only as far as it needs to.
func lastLines(r io.ReaderAt, size int64, n int) ([]string, error) {
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

// emit writes one line with the follower's prefix.
func (fl *follower) emit(w io.Writer, line string) {
	fmt.Fprintf(w, "%s%s\n", fl.prefix, line)
}

// follow polls every follower until ctx ends. Polling, rather than
// inotify, keeps it simple and works on every file system; a quarter of a
// second is quick enough for a person watching.
func follow(ctx context.Context, followers []*follower, out *bufio.Writer) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, fl := range followers {
			if err := fl.poll(out); err != nil {
				return err
			}
		}
		if err := out.Flush(); err != nil {
			return err // stdout closed: nobody is reading any more
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// poll prints the lines appended since the last poll. When rotation has
// renamed the file aside it finishes the old file, then moves to the new
// one at the same path; a file cut short is read again from its start.
func (fl *follower) poll(w io.Writer) error {
	if fl.f == nil {
		f, err := os.Open(fl.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // not created yet, or between rename and create
		}
		if err != nil {
			return err
		}
		fl.f, fl.off = f, 0
	}
	if err := fl.drain(w); err != nil {
		return err
	}
	now, err := os.Stat(fl.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	was, serr := fl.f.Stat()
	switch {
	case serr != nil:
		return serr
	case err != nil || !os.SameFile(now, was):
		// Renamed aside: lumberjack wrote its last bytes to it before the
		// rename, so one more read finishes it.
		if err := fl.drain(w); err != nil {
			return err
		}
		if len(fl.part) > 0 {
			fl.emit(w, string(fl.part))
		}
		fl.f.Close()
		fl.f, fl.part = nil, nil
		return fl.poll(w)
	case now.Size() < fl.off:
		fl.off, fl.part = 0, nil
	}
	return nil
}

// maxPartial bounds what drain holds of a line not yet ended.
const maxPartial = 64 << 10

// drain prints the whole lines between the follower's offset and the end
// of its file, keeping a line not yet ended for the next time.
func (fl *follower) drain(w io.Writer) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := fl.f.ReadAt(buf, fl.off)
		fl.off += int64(n)
		data := append(fl.part, buf[:n]...)
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			fl.emit(w, string(data[:i]))
			data = data[i+1:]
		}
		if len(data) > maxPartial {
			fl.emit(w, string(data)) // a line that never ends is shown in pieces
			data = nil
		}
		fl.part = append([]byte(nil), data...)
		if errors.Is(err, io.EOF) || n == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", fl.path, err)
		}
	}
}
