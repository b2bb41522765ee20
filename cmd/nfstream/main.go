// Command nfstream turns packets into bidirectional flow records with
// NFStream's features and column names.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal ends the capture gracefully; restoring the default
	// handling then lets a second signal abort at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

// exitCode maps an error to the process exit status, in one place.
func exitCode(err error) int {
	var usage *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &usage):
		fmt.Fprintf(os.Stderr, "nfstream: %v\nRun 'nfstream --help' for usage.\n", err)
		return exitUsage
	case errors.Is(err, pipeline.ErrInterrupted):
		fmt.Fprintln(os.Stderr, "nfstream: interrupted; flows read so far were written")
		return exitInterrupted
	default:
		fmt.Fprintf(os.Stderr, "nfstream: %v\n", err)
		return exitFailure
	}
}
