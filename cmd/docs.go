package cmd

//go:generate go run ../internal/gendocs -out ../docs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// DocsGlob matches the pages WriteDocs writes, and only those.
const DocsGlob = "hellomgr*.md"

// docsHeader opens every generated page.
const docsHeader = "<!-- Generated from the command definitions in cmd/ by `go run ./internal/gendocs`: edit those, not this. -->\n\n"

// WriteDocs writes one markdown page per command into dir (hellomgr.md,
// hellomgr_up.md, ...), generated from the same definitions the command
// line runs, after removing the pages a previous run wrote so that a
// command that is gone loses its page. The pages are the same wherever
// they are generated: the -c default shows as config.yaml whatever
// $HELLOMGR_CONFIG says, and no page carries a date.
func WriteDocs(dir string) error {
	old, err := filepath.Glob(filepath.Join(dir, DocsGlob))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("remove stale page: %w", err)
		}
	}
	root := newRoot(io.Discard, io.Discard)
	var settle func(c *cobra.Command)
	settle = func(c *cobra.Command) {
		c.DisableAutoGenTag = true
		if f := c.Flags().Lookup("config"); f != nil {
			f.DefValue = "config.yaml"
		}
		for _, sub := range c.Commands() {
			settle(sub)
		}
	}
	settle(root)
	header := func(string) string { return docsHeader }
	same := func(link string) string { return link }
	if err := doc.GenMarkdownTreeCustom(root, dir, header, same); err != nil {
		return fmt.Errorf("write command pages into %s: %w", dir, err)
	}
	return nil
}
