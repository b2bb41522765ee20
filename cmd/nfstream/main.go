// Command nfstream turns packets into bidirectional flow records with
// NFStream's features and column names.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/pipeline"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	// Signals are handled before anything runs (signals.go): the first
	// SIGINT or SIGTERM ends the run gracefully, a second aborts, and
	// SIGHUP never kills.
	ctx := handleSignals()
	err := newRootCommand().ExecuteContext(ctx)
	code := exitCode(err)
	capture.RestoreStdin()
	os.Exit(code)
}

// exitCode maps an error to the process exit status, in one place, and
// prints it: one line "nfstream: <what>: <why>", then the summary of what
// was written anyway.
func exitCode(err error) int {
	var usage *usageError
	code := exitFailure
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &usage):
		fmt.Fprintf(os.Stderr, "nfstream: %v\nRun 'nfstream --help' for usage.\n", err)
		return exitUsage
	case errors.Is(err, pipeline.ErrInterrupted):
		fmt.Fprintln(os.Stderr, "nfstream: interrupted; flows read so far were written")
		code = exitInterrupted
	default:
		fmt.Fprintf(os.Stderr, "nfstream: %v\n", err)
	}
	var s *summarized
	if errors.As(err, &s) {
		fmt.Fprint(os.Stderr, s.summary)
	}
	return code
}
