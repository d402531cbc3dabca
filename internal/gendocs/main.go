// Command gendocs regenerates the command reference in docs/: one page per
// command, from the cobra definitions in cmd/. Run it from the repository
// root after changing a command:
//
//	go run ./internal/gendocs
//
// (or `go generate ./cmd`). cmd's TestDocsAreCurrent fails until it is run.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/hellomgr/hellomgr/cmd"
	"github.com/hellomgr/hellomgr/internal/cmddocs"
)

func main() {
	out := flag.String("out", "docs", "folder to write the pages into")
	flag.Parse()
	if err := cmddocs.Write(cmd.Root(), *out); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
