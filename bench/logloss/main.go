// Command logloss measures what rotation and `hellomgr logs -f` lose: it
// runs `hellomgr up -d` with one instance that writes numbered lines at a
// steady rate (or as fast as it can) into a log of max_size 1MB, with
// `hellomgr logs PORT -f` following it from before the start, then counts
// the lines missing or repeated in the log files and in what -f printed,
// and prints one table.
//
//	go -C bench run ./logloss [-lines 300000] [-rate 5MB] [-keep]
//
// The instance is this program again (-app), serving on its port so that
// hellomgr sees it ready. Everything runs in a temporary folder, on a free
// loopback port; every process it starts is stopped by PID at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

type options struct {
	lines int
	rate  int // bytes a second; 0: as fast as it can
	keep  bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-app" {
		os.Exit(app(os.Args[2:]))
	}
	var o options
	var rate string
	flag.IntVar(&o.lines, "lines", 300000, "numbered lines the instance writes")
	flag.StringVar(&rate, "rate", "5MB", `how fast it writes them, bytes a second ("5MB", "500KB"; "max": as fast as it can)`)
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary folder (its path is printed)")
	flag.Parse()
	var err error
	if o.rate, err = parseRate(rate); err != nil {
		fmt.Fprintln(os.Stderr, "bench/logloss:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/logloss:", err)
		os.Exit(1)
	}
}

func parseRate(s string) (int, error) {
	if s == "max" || s == "0" {
		return 0, nil
	}
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err != nil || v <= 0 {
				break
			}
			return int(v * float64(u.mult)), nil
		}
	}
	return 0, fmt.Errorf("-rate %q: want a size a second like 5MB or 500KB, or max", s)
}

// run builds hellomgr, runs the job and prints the table.
func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "logloss")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("folder:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	root, err := benchkit.ModuleRoot()
	if err != nil {
		return err
	}
	bin, err := benchkit.Build(ctx, root, dir)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rep := benchkit.NewReport(root, "logloss", "No line lost to rotation or logs -f")
	r, err := measure(ctx, o, dir, bin, self)
	if err != nil {
		return err
	}
	r.report(rep, o)
	path, err := rep.Finish(os.Stdout, root)
	fmt.Println("raw figures:", path)
	if err == nil && rep.Failed() > 0 {
		err = errors.New("lines were lost or repeated")
	}
	return err
}
