package meter

import (
	"unsafe"

	"github.com/nfstream-go/nfstream/internal/features"
)

// Bounding the memory of active flows (Config.MaxActive).
//
// A flood of distinct one-packet flows (a scan, spoofed sources) keeps every
// flow in the table until it idles out, so without a bound the process grows
// until the system kills it or the Go runtime dies with "out of memory".
// The default bound comes from the memory the process may use:
//
//	budget      = min(MemAvailable of /proc/meminfo,
//	                  memory.max of this process's cgroup and its parents
//	                  (cgroup v2; memory.limit_in_bytes with v1), when set,
//	                  RLIMIT_AS, RLIMIT_DATA, when set)
//	max flows   = budget / 2 / FlowBytes(config), at least MinDefaultFlows
//
// Half of the budget leaves room for the Go heap's growth between
// collections, the output's buffers, exported records on their way and the
// rest of the process. With several meters each gets ceil(max flows/meters).

// MinDefaultFlows is the smallest bound the default gives, however little
// memory there seems to be.
const MinDefaultFlows = 4096

// dpiFlowBytes is the C memory nDPI 4.2 holds for a flow whose detection is
// still open (ndpi_flow_struct from ndpi_flow_malloc, as glibc's malloc
// sizes it), measured by TestDPIFlowBytes after one UDP packet.
const dpiFlowBytes = 704

// l7StringBytes allows for the strings a flow's L7 values hold once its
// detection closed (server name, fingerprints, user agent; application and
// category names are interned).
const l7StringBytes = 48

// tableBytesPerFlow is the flow table's share: 8-byte entries, at most 4
// per flow (the table doubles when half full). The free list lives in the
// free slots themselves.
const tableBytesPerFlow = 4 * 8

// FlowBytes estimates the memory one active flow takes in a meter with cfg:
// its slot with its SPLT entries, its table entries, and with dissection
// its nDPI state, bookkeeping and L7 values.
func FlowBytes(cfg Config) uint64 {
	b := uint64(slotStride(cfg.Features.SPLT)) + tableBytesPerFlow
	if cfg.Dissections > 0 {
		b += uint64(unsafe.Sizeof(dissection{})+unsafe.Sizeof(features.L7{})) + dpiFlowBytes + l7StringBytes
	}
	return b
}

// MemoryBudget is the memory the process may use, as the smallest of the
// limits described above, and which limit that is; 0 and "" when none is
// known.
func MemoryBudget() (bytes uint64, source string) {
	return memoryBudget()
}

// DefaultMaxActive is the default bound on active flows for meters with
// cfg (all meters together), from MemoryBudget; 0 (no bound) when no limit
// is known.
func DefaultMaxActive(cfg Config) uint64 {
	budget, _ := MemoryBudget()
	return maxActiveFor(budget, cfg)
}

func maxActiveFor(budget uint64, cfg Config) uint64 {
	if budget == 0 {
		return 0
	}
	return max(budget/2/FlowBytes(cfg), MinDefaultFlows)
}
