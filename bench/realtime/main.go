// Command realtime measures what long-lived connections see across
// `hellomgr reload`, through exactly what `hellomgr nginx` prints, with a
// Tornado app using python/hellomgr_tornado (e2e/testdata/realtime's
// websocket echo and long-polling chat, run as asyncio.run(main())), 4
// ports, and prints each figure against the targets of issue 21, with
// `NOT met` where one is missed:
//
//   - ws: N websockets echoing numbered messages (a client resends what
//     was not echoed), R reloads: failed upgrades, websockets dropped
//     without a close frame (1006), messages lost (0 each); the closes of
//     each replaced instance spread over at least 1 s; each reload within
//     3 s plus stop.spread (2 s);
//
//   - poll: N long-pollers in a quiet room (every poll held), R reloads:
//     failed polls (0); each reload within 5 s;
//
//   - quiet: Q websockets and Q long-polls held -hold with no reload, then
//     used: none cut (nginx's default proxy_read_timeout, 60 s, cuts every
//     one of them; the printed config's is 1 h).
//
//     cd bench && go run ./realtime                      # short hold (10 s)
//     cd bench && go run ./realtime -phases quiet -hold 5m
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

type options struct {
	clients, pollers, quiet, reloads int
	hold, interval                   time.Duration
	phases                           string
	keep                             bool
}

func main() {
	var o options
	flag.IntVar(&o.clients, "clients", 500, "websockets echoing numbered messages")
	flag.IntVar(&o.pollers, "pollers", 200, "long-pollers in a quiet room")
	flag.IntVar(&o.quiet, "quiet", 20, "quiet websockets, and as many quiet long-polls, held -hold")
	flag.IntVar(&o.reloads, "reloads", 3, "reloads in the ws and poll phases")
	flag.DurationVar(&o.hold, "hold", 10*time.Second, "how long the quiet phase holds its connections (the target: 5m)")
	flag.DurationVar(&o.interval, "interval", 500*time.Millisecond, "time between two messages of one websocket")
	flag.StringVar(&o.phases, "phases", "ws,poll,quiet", "phases to run, comma-separated")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folder (logs, nginx's error log) and say where")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "realtime:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if err := benchkit.Check(benchkit.Nginx, benchkit.Tornado); err != nil {
		return err
	}
	root, err := benchkit.ModuleRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "hmrt")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("work folder:", work)
	} else {
		defer os.RemoveAll(work)
	}
	bin, err := benchkit.Build(ctx, root, work)
	if err != nil {
		return err
	}
	fmt.Printf("bench/realtime, %s, load average %s, 4 ports, Tornado app via python/hellomgr_tornado, printed nginx config\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), benchkit.LoadAverage())
	phases := map[string]func(context.Context, string, string, string, options) error{
		"ws": wsPhase, "poll": pollPhase, "quiet": quietPhase,
	}
	for _, name := range strings.Split(o.phases, ",") {
		phase, ok := phases[name]
		if !ok {
			return fmt.Errorf("-phases: no phase %q (want ws, poll, quiet)", name)
		}
		if err := phase(ctx, root, work, bin, o); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// figure prints one line: what, the value, and the target, with NOT met
// when ok is false.
func figure(what string, value any, target string, ok bool) {
	mark := ""
	if !ok {
		mark = "  NOT met"
	}
	fmt.Printf("  %-48s %-24v (target %s)%s\n", what, value, target, mark)
}

func durations(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.Round(10 * time.Millisecond).String()
	}
	return strings.Join(s, ", ")
}

func allWithin(ds []time.Duration, limit time.Duration) bool {
	for _, d := range ds {
		if d > limit {
			return false
		}
	}
	return true
}
