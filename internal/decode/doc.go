// Package decode is the second stage of the pipeline: it turns one captured
// link-layer record into a Packet, the reused view of the fields the meter
// needs (addresses, ports, protocol, VLAN, tunnel, TCP flags and the four
// sizes of NFStream's accounting modes).
//
// The decoder follows NFStream 6.5.4's C engine (packet_process and friends
// in lib_engine.c) step by step, including its quirks, because the flows it
// produces must be NFStream's flows: the IP layer is found by the version
// nibble, IPv4 non-first fragments and truncated IPv6 packets are ignored,
// sizes come from header fields rather than captured bytes, and GTP-U,
// CAPWAP and TZSP are decapsulated only when tunnel decoding is on. Where the
// C code would read past the captured bytes, this decoder reads zeros.
//
// Departures, documented in docs/compatibility.md item 3: Linux SLL2 and
// PPI link types are decoded (NFStream ignores them).
//
// Decode allocates nothing: the Packet's IPContent is a sub-slice of the
// input record and is valid as long as the record's bytes are.
package decode
