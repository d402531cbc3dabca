// Package cmddocs writes the command reference in docs/ from the cobra
// definitions the command line runs. It lives apart from cmd/ so that
// cobra's doc generator (and the markdown libraries it brings) is built
// into the docs tool alone, not into every hellomgr process.
package cmddocs

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Glob matches the pages Write writes, and only those.
const Glob = "hellomgr*.md"

// header opens every generated page.
const header = "<!-- Generated from the command definitions in cmd/ by `go run ./internal/gendocs`: edit those, not this. -->\n\n"

// Write writes one markdown page per command of root into dir
// (hellomgr.md, hellomgr_up.md, ...), after removing the pages a previous
// run wrote so that a command that is gone loses its page. The pages are
// the same wherever they are generated: the -c default shows as
// config.yaml whatever $HELLOMGR_CONFIG says, and no page carries a date.
func Write(root *cobra.Command, dir string) error {
	old, err := filepath.Glob(filepath.Join(dir, Glob))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("remove stale page: %w", err)
		}
	}
	settle(root)
	first := func(string) string { return header }
	same := func(link string) string { return link }
	if err := doc.GenMarkdownTreeCustom(root, dir, first, same); err != nil {
		return fmt.Errorf("write command pages into %s: %w", dir, err)
	}
	return nil
}

// settle makes c and its subcommands print the same on every machine.
func settle(c *cobra.Command) {
	c.DisableAutoGenTag = true
	if f := c.Flags().Lookup("config"); f != nil {
		f.DefValue = "config.yaml"
	}
	for _, sub := range c.Commands() {
		settle(sub)
	}
}
