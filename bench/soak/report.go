package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// report puts the soak's figures and targets in r.
func report(r *benchkit.Report, o options, took time.Duration, sent int64, failures []string, reloadErrs []error, before, after stats) {
	r.Notes = append(r.Notes, fmt.Sprintf("%d reloads in a row of 4 built-in instances (the shipped defaults) under load through nginx "+
		"(%d keep-alive clients, GET and POST).", o.reloads, o.workers))
	r.Tables = append(r.Tables, benchkit.Table{
		Columns: []string{"reloads", "failed reloads", "time", "requests", "failed requests", "manager goroutines", "open fds", "RSS"},
		Rows: [][]string{{strconv.Itoa(o.reloads), strconv.Itoa(len(reloadErrs)), fmt.Sprintf("%.1f s", took.Seconds()),
			strconv.FormatInt(sent, 10), strconv.Itoa(len(failures)),
			fmt.Sprintf("%.0f → %.0f", before.goroutines, after.goroutines), fmt.Sprintf("%.0f → %.0f", before.fds, after.fds),
			fmt.Sprintf("%.1f → %.1f MiB", before.rss/(1<<20), after.rss/(1<<20))}},
	})
	r.Target(len(failures) == 0 && len(reloadErrs) == 0, "%d failed requests and %d failed reloads, target 0", len(failures), len(reloadErrs))
	r.Target(after.goroutines <= before.goroutines && after.fds <= before.fds,
		"manager goroutines %.0f → %.0f and fds %.0f → %.0f, target no growth", before.goroutines, after.goroutines, before.fds, after.fds)
	for i, f := range failures {
		if i == 10 {
			r.Notes = append(r.Notes, fmt.Sprintf("... and %d more failures", len(failures)-10))
			break
		}
		r.Notes = append(r.Notes, "failed: "+f)
	}
	for _, err := range reloadErrs {
		r.Notes = append(r.Notes, "reload failed: "+err.Error())
	}
}
