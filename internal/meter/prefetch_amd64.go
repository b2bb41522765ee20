package meter

// prefetch asks the processor to bring the cache line at each address
// into cache, without waiting for it: PREFETCHT0, which never faults, so
// an address may be stale. One call covers many lines, so the cost of a
// call to assembly is paid once per group of packets.
//
//go:noescape
func prefetch(addrs []uintptr)
