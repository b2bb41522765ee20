//go:build !amd64

package meter

// prefetch has no portable form in Go: elsewhere than on amd64 it does
// nothing, and the packet path waits for each cache miss in turn.
func prefetch(addrs []uintptr) {}
