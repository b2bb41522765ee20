//go:build !cgo

package dpi

import "fmt"

// Version returns "": without cgo no nDPI library is linked in.
func Version() string { return "" }

// Engine stands in for an nDPI detection module in a build without cgo.
// New never returns one; its methods exist so that callers compile and
// do nothing.
type Engine struct{}

// New returns an error wrapping ErrUnavailable: the program was built
// without cgo, so nDPI cannot be called.
func New() (*Engine, error) { return nil, fmt.Errorf("dpi: %w", ErrUnavailable) }

// Close does nothing.
func (e *Engine) Close() {}

// NewFlow returns the zero Flow.
func (e *Engine) NewFlow() Flow { return Flow{} }

// FreeFlow sets *f to the zero Flow.
func (e *Engine) FreeFlow(f *Flow) {
	if f != nil {
		*f = Flow{}
	}
}

// Process returns the zero Protocol.
func (e *Engine) Process(f Flow, ip []byte, timeMS uint64) Protocol { return Protocol{} }

// ExtraDissectionPossible returns false.
func (e *Engine) ExtraDissectionPossible(f Flow) bool { return false }

// GiveUp returns the zero Protocol, not guessed.
func (e *Engine) GiveUp(f Flow) (p Protocol, guessed bool) { return Protocol{}, false }

// Collect returns the zero Info.
func (e *Engine) Collect(f Flow, p Protocol) Info { return Info{} }
