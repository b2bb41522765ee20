//go:build !cgo

package bpf

import (
	"fmt"

	"github.com/nfstream-go/nfstream/internal/capture"
	netbpf "golang.org/x/net/bpf"
)

// Compile returns an error wrapping ErrUnavailable: without cgo there is no
// libpcap to compile the expression with.
func Compile(expr string, link capture.LinkType, snaplen int) ([]netbpf.RawInstruction, error) {
	return nil, unavailable(expr)
}

// CompileFile returns an error wrapping ErrUnavailable.
func CompileFile(expr string, link capture.LinkType, snaplen int, swapped bool) ([]netbpf.RawInstruction, error) {
	return nil, unavailable(expr)
}

// CompileLive returns an error wrapping ErrUnavailable.
func CompileLive(expr, iface string, snaplen int) ([]netbpf.RawInstruction, error) {
	return nil, unavailable(expr)
}

func unavailable(expr string) error {
	return fmt.Errorf("filter %q: %w", expr, ErrUnavailable)
}
