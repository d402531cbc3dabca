// Command genman writes one man page per command (hellomgr.1,
// hellomgr-up.1, ...) from the cobra definitions in cmd/, for the
// packages (packaging/build.sh). It lives beside gendocs, out of the
// hellomgr binary, for the same reason: cobra's doc generator is built
// into the tools alone.
//
//	go run ./internal/genman -out DIR [-date 2026-12-08]
//
// The date printed in each page is -date (default: $SOURCE_DATE_EPOCH,
// else today), so that two builds of one commit make the same pages.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/hellomgr/hellomgr/cmd"
)

func main() {
	out := flag.String("out", "", "folder to write the pages into (created if missing)")
	date := flag.String("date", "", "date shown in the pages, YYYY-MM-DD (default: $SOURCE_DATE_EPOCH, else today)")
	flag.Parse()
	if err := run(*out, *date); err != nil {
		fmt.Fprintln(os.Stderr, "genman:", err)
		os.Exit(1)
	}
}

func run(out, date string) error {
	if out == "" {
		return fmt.Errorf("-out is required: the folder to write the man pages into")
	}
	when, err := pageDate(date)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	root := cmd.Root()
	settle(root)
	header := &doc.GenManHeader{Title: "HELLOMGR", Section: "1", Date: &when, Source: "hellomgr", Manual: "hellomgr manual"}
	if err := doc.GenManTree(root, header, out); err != nil {
		return fmt.Errorf("write man pages into %s: %w", out, err)
	}
	return nil
}

// pageDate reads -date, or $SOURCE_DATE_EPOCH (reproducible builds), or
// takes today.
func pageDate(date string) (time.Time, error) {
	if date != "" {
		t, err := time.Parse(time.DateOnly, date)
		if err != nil {
			return t, fmt.Errorf("-date %q: want YYYY-MM-DD", date)
		}
		return t, nil
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	return time.Now().UTC(), nil
}

// settle makes the pages the same on every machine, as cmddocs does for
// docs/: no generated-by tag, and the -c default shown as the packaged
// config rather than whatever $HELLOMGR_CONFIG says here. Cobra's own
// help command is left out: `hellomgr help` is not worth a page.
func settle(c *cobra.Command) {
	c.DisableAutoGenTag = true
	if f := c.Flags().Lookup("config"); f != nil {
		f.DefValue = "config.yaml"
	}
	for _, sub := range c.Commands() {
		settle(sub)
	}
}
