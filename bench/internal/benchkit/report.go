package benchkit

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Report is what a bench found, in the form every bench writes to
// bench/out/<bench>.json and bench/figures renders into docs/figures.md:
// when, on which commit and under what load it ran, its tables, and each
// target met or NOT met. Raw holds the bench's own figures as measured.
type Report struct {
	Bench      string   `json:"bench"` // the program under bench/: logcost
	Title      string   `json:"title"`
	Command    string   `json:"command"` // as run, from the repository's root
	Date       string   `json:"date"`    // UTC, RFC 3339
	Commit     string   `json:"commit"`  // git describe of the tree measured, -dirty with changes
	CPUs       int      `json:"cpus"`
	LoadBefore string   `json:"loadavg_before"`
	LoadAfter  string   `json:"loadavg_after"`
	Notes      []string `json:"notes"` // paragraphs: what was measured, how
	Tables     []Table  `json:"tables"`
	Targets    []Target `json:"targets"`
	Raw        any      `json:"raw"`
}

// Table is a markdown table: a header and rows of cells.
type Table struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// Target is one figure against its target.
type Target struct {
	Text string `json:"text"` // the figure and the target, in words
	Met  bool   `json:"met"`
}

// NewReport starts the report of bench, run from root (the repository),
// with its command line, the date, the commit and the load average now.
func NewReport(root, bench, title string) *Report {
	cmd := strings.TrimSpace("go -C bench run ./" + bench + " " + strings.Join(os.Args[1:], " "))
	return &Report{Bench: bench, Title: title, Command: cmd, Date: time.Now().UTC().Format(time.RFC3339),
		Commit: Commit(root), CPUs: runtime.NumCPU(), LoadBefore: LoadAverage()}
}

// Commit is the short commit of the tree at root, with -dirty when it
// has changes: the code a figure was measured on.
func Commit(root string) string {
	out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// Target adds a target: text with args, and whether it is met.
func (r *Report) Target(met bool, format string, args ...any) {
	r.Targets = append(r.Targets, Target{Text: fmt.Sprintf(format, args...), Met: met})
}

// Failed is how many targets are not met.
func (r *Report) Failed() int {
	n := 0
	for _, t := range r.Targets {
		if !t.Met {
			n++
		}
	}
	return n
}

// Finish records the load average at the end, prints the report as
// markdown to w and writes it to bench/out/<bench>.json under root; it
// returns that path.
func (r *Report) Finish(w io.Writer, root string) (string, error) {
	r.LoadAfter = LoadAverage()
	r.Markdown(w, "##")
	path := filepath.Join(root, "bench", "out", r.Bench+".json")
	text, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, append(text, '\n'), 0o644)
}

// Markdown writes the report under a heading of level h ("##").
func (r *Report) Markdown(w io.Writer, h string) {
	fmt.Fprintf(w, "%s %s\n\n`%s`: %s, commit %s, %d CPUs, load average %s before and %s after.\n\n",
		h, r.Title, r.Command, r.Date, r.Commit, r.CPUs, r.LoadBefore, r.LoadAfter)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "%s\n\n", n)
	}
	for _, t := range r.Tables {
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(t.Columns, " | "), strings.Repeat(" --- |", len(t.Columns)))
		for _, row := range t.Rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
		}
		fmt.Fprintln(w)
	}
	if len(r.Targets) > 0 {
		fmt.Fprintln(w, "Targets:")
		fmt.Fprintln(w)
		for _, t := range r.Targets {
			mark := "met"
			if !t.Met {
				mark = "NOT met"
			}
			fmt.Fprintf(w, "- %s: %s\n", t.Text, mark)
		}
		fmt.Fprintln(w)
	}
}

// Median is the median of v; 0 when v is empty.
func Median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
