package cmd

//go:generate go run ../internal/gendocs -out ../docs

import (
	"io"

	"github.com/spf13/cobra"
)

// Root is the command tree the command line runs, writing nowhere: what
// internal/cmddocs turns into the pages of docs/.
func Root() *cobra.Command { return newRoot(io.Discard, io.Discard) }
