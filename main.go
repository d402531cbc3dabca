// Command hellomgr runs one single-process web server per port, supervises
// each on its own, and replaces them a few at a time without stopping the
// service. See README.md.
package main

import (
	"os"

	"github.com/hellomgr/hellomgr/cmd"
)

func main() {
	os.Exit(cmd.Execute(os.Args[1:], os.Stdout, os.Stderr))
}
