//go:build !cgo

package filter

import (
	"errors"
	"testing"
)

// TestUnavailable checks the error of a build without cgo: it quotes the
// expression and says why.
func TestUnavailable(t *testing.T) {
	for _, err := range []error{
		func() error { _, err := Compile("tcp", 1 /* Ethernet */, 1536); return err }(),
		func() error { _, err := CompileFile("tcp", 1 /* Ethernet */, 1536, false); return err }(),
		func() error { _, err := CompileLive("tcp", "eth0", 1536); return err }(),
	} {
		if !errors.Is(err, ErrUnavailable) || err.Error() != `filter "tcp": `+ErrUnavailable.Error() {
			t.Errorf("%v", err)
		}
	}
}
