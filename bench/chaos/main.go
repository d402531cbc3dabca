// Command chaos runs real instances (the built-in `hellomgr serve`, and
// a Tornado app through python/hellomgr_tornado) under two
// managers, each behind a real nginx configured with what `hellomgr
// nginx` prints, under keep-alive GET and POST load, and injects faults
// drawn from a seeded source for -duration: kill -9 of an instance and of
// a hook's child, SIGSTOP/SIGCONT, reload (with and without a canary),
// restart/stop/start PORT, upgrade, SIGHUP/SIGUSR2, two signals 5-30 ms
// apart, SIGTERM then up, a config edit during an upgrade, a full disk
// for the logs, a control client that stops reading. Hooks are slow and
// leave a child. At the end it prints one line per figure, with `NOT met`
// beside each that misses 0, and writes them to -json.
//
//	go -C bench run ./chaos [-seed N] [-duration 2m] [-json out.json] [-bin PATH]
//
// It needs root (the tmpfs for the logs, the cgroups) and Debian's nginx
// and python3-tornado. Every process it starts is ended by pid, on
// Ctrl-C too, and the tmpfs is unmounted.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type options struct {
	seed     uint64
	duration time.Duration
	jsonPath string
	detail   string
	bin      string
	builtin  int
	tornado  int
	workers  int
	pause    time.Duration
}

func main() {
	var o options
	flag.Uint64Var(&o.seed, "seed", uint64(time.Now().UnixNano()), "seed of the fault sequence (printed; give it again to replay the same sequence)")
	flag.DurationVar(&o.duration, "duration", 2*time.Minute, "how long faults are injected")
	flag.StringVar(&o.jsonPath, "json", "", "write the figures to this file as JSON")
	flag.StringVar(&o.detail, "detail", "", "write every fault and every failed request, with times, to this file")
	flag.StringVar(&o.bin, "bin", "", "the hellomgr binary to run (default: built from this repository)")
	flag.IntVar(&o.builtin, "builtin", 3, "ports of the built-in server")
	flag.IntVar(&o.tornado, "tornado", 2, "ports of the Tornado app")
	flag.IntVar(&o.workers, "workers", 2, "load workers per nginx, each on a keep-alive connection, half GET half POST")
	flag.DurationVar(&o.pause, "pause", 10*time.Millisecond, "at least this long between two requests of one worker")
	flag.Parse()
	if o.builtin < 3 || o.tornado < 2 {
		fmt.Fprintln(os.Stderr, "chaos: -builtin must be 3 or more and -tornado 2 or more (a stopped port leaves two serving)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := chaos(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	if !res.met() {
		os.Exit(1)
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
