// Package testgen makes the project's test captures and, beside each, the
// flows NFStream should report for it.
//
// It is the test oracle of the pipeline, not part of it: frames are built
// with gopacket's serialisers (github.com/gopacket/gopacket/layers, written
// with pcapgo), an implementation independent from our capture readers and
// decoder, and headers gopacket cannot write (Linux SLL and SLL2, Cisco HDLC,
// TZSP, CAPWAP, big-endian BSD loopback, big-endian pcap files) are written
// by hand next to a drawing of their layout. The expected flows are computed
// from what the generator built, following NFStream's rules
// (docs/nfstream-semantics.md sections 2.2, 2.3, 2.7, 3 and 4): the flow
// key, the direction of each packet, the four accounting modes, the packets
// NFStream's parser ignores, time clamping, and idle and active expiry with
// the creation-order idle scan, which also fixes the flow ids.
//
// A Scenario describes one small capture: its file format, its link type and
// its flows (endpoints, encapsulation, packets). Build turns it into file
// bytes and an Expected record; WriteAll writes the whole Catalog to a
// directory (testdata/ via scripts/gencaptures). WriteLarge streams a large,
// deterministic capture for benchmarks without holding it in memory.
//
// Everything is deterministic: fixed timestamps, fixed seeds and no
// dependence on the host, so regenerating gives byte-identical files.
//
//go:generate go run ../../../scripts/gencaptures -out ../../../testdata
package testgen
