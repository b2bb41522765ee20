// Package meter is the flow-metering stage: a flow table keyed by the
// direction-agnostic 5-tuple plus VLAN and tunnel, NFStream's timeouts and
// expiry order, and the per-packet feature updates of package features.
//
// Expiry follows NFStream 6.5.4 for file input (docs/compatibility.md
// item 2): each packet first tests its own flow for idle then active
// timeout and, if expired, the flow is exported without that packet and a
// new flow starts from it; every 10 ms of packet time an idle scan walks the
// flows in creation order and stops at the first flow that is not idle
// (NFStream's scan, even though it delays some exports); the end of the
// capture exports the remaining flows in creation order. Time is packet
// time, clamped so it never goes backwards. Live capture uses the better
// rules instead (Config.LRU and Advance): idle expiry from the least
// recently seen flow, and on the wall clock when no packet comes.
//
// Memory is bounded by Config.MaxActive (budget.go): when the table is full,
// a packet that needs a new flow first exports the oldest flow (head of the
// list) with expiration id 2, features.ExpiredEvicted. Below the bound this
// costs one compare per new flow.
//
// Several meters can share a capture and still give one meter's output:
// ProcessShardBatch meters without idle scans and reports, at the scan
// points the caller gives, which flows became idle; the caller runs the
// scans across meters and has the flows they take expired with ExpireIdle;
// every record carries its place in a single meter's export order
// (features.Order).
//
// Ownership: the Meter owns its flows. The *features.Record handed to the
// export function is valid only during that call.
//
// The hot path allocates nothing in steady state: flows live in pages of
// slots with a free list, linked in creation order by index, and SPLT
// entries live in slabs indexed by flow slot; neither holds pointers, so
// the garbage collector does not scan them. With hundreds of thousands of
// flows nearly every packet's flow is out of cache: ProcessBatch and
// ProcessShardBatch prefetch the lines the next packets will touch, in three
// steps a few packets apart, while they meter the current ones (see
// features.Flow for the layout). On amd64 this uses the PREFETCHT0
// instruction (prefetch_amd64.s); elsewhere there is no prefetch and the
// packet path waits for each miss.
package meter
