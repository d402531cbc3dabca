package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// watchOptions are status's --watch and --interval.
type watchOptions struct {
	on       bool
	interval time.Duration
}

// Terminal sequences of a frame: as watch(1) does, each table is drawn
// over the last one (cursor home, each line cleared to its end, then the
// rest of the screen cleared), never after a full clear, so the screen
// does not flicker. The cursor is hidden while it runs.
const (
	termHome       = "\x1b[H"
	termClearLine  = "\x1b[K"
	termClearBelow = "\x1b[J"
	termClearAll   = "\x1b[2J"
	termHideCursor = "\x1b[?25l"
	termShowCursor = "\x1b[?25h"
)

// runWatch draws the status table every interval until Ctrl-C (SIGINT)
// or SIGTERM, then puts the cursor back below the table and returns nil.
// A manager that stops answering is shown as its error in the frame, and
// asked again at the next tick, as watch(1) would.
func runWatch(ctx context.Context, cf *configFlag, o watchOptions, out io.Writer) error {
	if o.interval <= 0 {
		return usageError{fmt.Errorf("--interval %s: want a time above 0, like 1s", o.interval)}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The screen is cleared once, before the first frame only.
	io.WriteString(out, termHideCursor+termHome+termClearAll)
	defer io.WriteString(out, termShowCursor+"\n")
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	for {
		out.Write(frame(ctx, cf, o.interval, screenRows(out)))
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// screenRows is the height of the terminal out is, 0 when it is none.
// A frame taller than the screen would scroll, and every frame would
// then be drawn below the last instead of over it.
func screenRows(out io.Writer) int {
	f, ok := out.(*os.File)
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Row)
}

// frame is one screen: a heading, the table (or why there is none), each
// line cleared to its end, and the rest of the screen cleared. With rows
// above 0 it keeps to that many lines, the last saying how many were
// left out.
func frame(ctx context.Context, cf *configFlag, interval time.Duration, rows int) []byte {
	var body bytes.Buffer
	fmt.Fprintf(&body, "Every %s: hellomgr status -c %s   %s\n\n", interval, cf.path, time.Now().Format(time.TimeOnly))
	_, report, err := cf.status(ctx)
	switch {
	case ctx.Err() != nil:
		return nil
	case err != nil:
		fmt.Fprintf(&body, "error: %v\n", err)
	default:
		printTable(&body, report)
	}
	return drawFrame(body.String(), rows)
}

// drawFrame is text as a frame of at most rows lines (0: any number).
func drawFrame(text string, rows int) []byte {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	// The last line of the screen stays empty: writing its newline would
	// scroll the screen by one.
	if rows > 1 && len(lines) > rows-1 {
		cut := len(lines) - (rows - 2)
		lines = append(lines[:rows-2], fmt.Sprintf("… %d more lines: a taller terminal shows them, or hellomgr status", cut))
	}
	var b bytes.Buffer
	b.WriteString(termHome)
	for _, line := range lines {
		b.WriteString(line + termClearLine + "\n")
	}
	b.WriteString(termClearBelow)
	return b.Bytes()
}
