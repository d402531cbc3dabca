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
		out.Write(frame(ctx, cf, o.interval))
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// frame is one screen: a heading, the table (or why there is none), each
// line cleared to its end, and the rest of the screen cleared.
func frame(ctx context.Context, cf *configFlag, interval time.Duration) []byte {
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
	var b bytes.Buffer
	b.WriteString(termHome)
	for line := range strings.Lines(body.String()) {
		b.WriteString(strings.TrimSuffix(line, "\n") + termClearLine + "\n")
	}
	b.WriteString(termClearBelow)
	return b.Bytes()
}
