//go:build !cgo

package filter

import (
	"fmt"

	netbpf "golang.org/x/net/bpf"
)

// Compile returns an error wrapping ErrUnavailable: without cgo there is no
// libpcap to compile the expression with.
func Compile(expr string, link uint32, snaplen int) ([]netbpf.RawInstruction, error) {
	return nil, unavailable(expr)
}

// CompileFile returns an error wrapping ErrUnavailable.
func CompileFile(expr string, link uint32, snaplen int, swapped bool) ([]netbpf.RawInstruction, error) {
	return nil, unavailable(expr)
}

// CompileLive returns an error wrapping ErrUnavailable.
func CompileLive(expr, iface string, snaplen int) ([]netbpf.RawInstruction, error) {
	return nil, unavailable(expr)
}

func unavailable(expr string) error {
	return fmt.Errorf("filter %q: %w", expr, ErrUnavailable)
}
