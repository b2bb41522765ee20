package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCommand writes the manual pages, generated from the command
// definition (flags, their help, the examples), into a folder: `make man`
// runs it. Hidden: it is for packaging, not for users.
func newManCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write the manual pages (nfstream.1 and one per subcommand) into DIR",
		Args:   cobra.ExactArgs(1),
		Hidden: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o777); err != nil {
				return fmt.Errorf("man pages folder %q: %w", args[0], unwrapPathError(err))
			}
			header := &doc.GenManHeader{Title: "NFSTREAM", Section: "1", Source: "nfstream " + version, Manual: "User Commands"}
			root.DisableAutoGenTag = true
			return doc.GenManTree(root, header, args[0])
		},
	}
}
