package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/output"
)

// Signals, handled from the start of the process, before anything runs:
//
//   - The first SIGINT or SIGTERM cancels the returned context: reading
//     stops at once (a read waiting on a quiet pipe included), every flow
//     read so far is written, the files are completed, and the status is
//     130.
//   - A second one aborts: the temporary files not committed yet are
//     removed (files under their final names are complete; the flows not
//     written yet are lost) and the process exits with status 130 at once.
//   - SIGHUP never kills a run. With rotation (--rotate, --rotate-flows)
//     it closes the current file (openOutput registers that with
//     onHangup); without, it is ignored, said once on standard error
//     unless -q.
func handleSignals() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	stop := make(chan os.Signal, 2)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		<-stop
		cancel()
		<-stop
		abort()
	}()
	go func() {
		for range hup {
			hangups.received()
		}
	}()
	return ctx
}

// abort ends the process on a second signal.
func abort() {
	output.AbortPending()
	capture.RestoreStdin()
	statusLine.println("nfstream: interrupted again: stopped without finishing; files not complete were removed")
	os.Exit(exitInterrupted)
}

// hangupNote is what an ignored SIGHUP says.
const hangupNote = "nfstream: SIGHUP ignored: no rotation (--rotate/--rotate-flows)"

// hangupState decides what a SIGHUP does once the options are known
// (setHangupPolicy); one that comes earlier is ignored then.
type hangupState struct {
	sync.Mutex
	known, rotating, quiet bool
	early                  bool // a SIGHUP came before the options were known
	told                   bool
	rotate                 func() // the open rotated output's, if any
}

var hangups hangupState

// setHangupPolicy tells the SIGHUP handler whether the run rotates its
// output (a SIGHUP then rotates once the output is open, onHangup) and
// whether it may write on standard error.
func setHangupPolicy(rotating, quiet bool) {
	h := &hangups
	h.Lock()
	defer h.Unlock()
	h.known, h.rotating, h.quiet = true, rotating, quiet
	if h.early && !rotating {
		h.tell()
	}
}

// onHangup sets what a SIGHUP does to the open rotated output (nil once it
// is closed).
func onHangup(rotate func()) {
	hangups.Lock()
	defer hangups.Unlock()
	hangups.rotate = rotate
}

// received handles one SIGHUP.
func (h *hangupState) received() {
	h.Lock()
	rotate := h.rotate
	switch {
	case rotate != nil:
	case !h.known:
		h.early = true
	case !h.rotating:
		h.tell()
	}
	h.Unlock()
	if rotate != nil {
		rotate()
	}
}

// tell says once, unless -q, that SIGHUP was ignored.
func (h *hangupState) tell() {
	if h.quiet || h.told {
		return
	}
	h.told = true
	statusLine.println(hangupNote)
}
