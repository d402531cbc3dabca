// Command figures writes docs/figures.md from the reports the benches
// left in bench/out/ (benchkit.Report, one <bench>.json each): every
// figure with the command that produced it, its date, commit and load
// average, and its targets met or NOT met. Run a bench, then this:
//
//	go -C bench run ./logcost && go -C bench run ./figures
//
// A bench not run yet has no section; one run again replaces its own.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// order puts the headline figures first; others follow by name.
var order = []string{"logcost", "logloss", "reload", "soak", "scale", "builtin", "metrics", "peers", "fleet"}

const header = `# Figures

Measured on this project's shared 2-core machine while other work ran: the
load average is given with each bench, and ratios measured side by side in
one run mean more than absolute numbers. Each section is one bench's last
report (bench/out/<bench>.json), written here by ` + "`go -C bench run ./figures`" + `;
run the command a section names to measure it again. Every bench cleans up
the processes it started, by pid.

`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/figures:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := benchkit.ModuleRoot()
	if err != nil {
		return err
	}
	reports, err := load(filepath.Join(root, "bench", "out"))
	if err != nil {
		return err
	}
	if len(reports) == 0 {
		return fmt.Errorf("no report in bench/out/: run a bench first (go -C bench run ./logcost)")
	}
	var b bytes.Buffer
	b.WriteString(header)
	for _, r := range reports {
		r.Markdown(&b, "##")
	}
	path := filepath.Join(root, "docs", "figures.md")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s: %d benches\n", path, len(reports))
	return nil
}

// load reads every report in dir, in order; files of another shape are
// skipped.
func load(dir string) ([]*benchkit.Report, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var reports []*benchkit.Report
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r benchkit.Report
		if err := json.Unmarshal(b, &r); err != nil || r.Bench == "" || r.Date == "" {
			continue // not a report (an older bench's own figures)
		}
		reports = append(reports, &r)
	}
	rank := func(r *benchkit.Report) int {
		if i := slices.Index(order, r.Bench); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortFunc(reports, func(a, b *benchkit.Report) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a.Bench, b.Bench)
	})
	return reports, nil
}
