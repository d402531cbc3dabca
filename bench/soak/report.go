package main

import (
	"fmt"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

func report(o options, took time.Duration, sent int64, failures []string, reloadErrs []error, before, after stats) {
	fmt.Printf("## hellomgr soak: %d reloads of 4 built-in instances under load through nginx\n\n", o.reloads)
	fmt.Printf("| reloads | failed reloads | time | requests sent | failed requests |\n| ---: | ---: | ---: | ---: | ---: |\n")
	fmt.Printf("| %d | %d | %s | %d | %d |\n\n", o.reloads, len(reloadErrs), took.Round(time.Millisecond), sent, len(failures))
	fmt.Printf("| manager | before | after | change |\n| --- | ---: | ---: | ---: |\n")
	fmt.Printf("| goroutines | %.0f | %.0f | %+.0f |\n", before.goroutines, after.goroutines, after.goroutines-before.goroutines)
	fmt.Printf("| open fds | %.0f | %.0f | %+.0f |\n", before.fds, after.fds, after.fds-before.fds)
	fmt.Printf("| RSS (MiB) | %.1f | %.1f | %+.1f |\n\n", before.rss/(1<<20), after.rss/(1<<20), (after.rss-before.rss)/(1<<20))
	for i, f := range failures {
		if i == 10 {
			fmt.Printf("... and %d more failures\n", len(failures)-10)
			break
		}
		fmt.Println("failed:", f)
	}
	for _, err := range reloadErrs {
		fmt.Println("reload failed:", err)
	}
	fmt.Printf("Load average: %s (2 shared cores). Command: `go -C bench run ./soak -reloads %d -workers %d`\n", benchkit.LoadAverage(), o.reloads, o.workers)
}
