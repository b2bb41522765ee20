// Package pipeline wires the stages together for one run: capture sources
// in order, the decoder, the meter and a sink. It numbers flows in output
// order (NFStream's id), stops after --max-flows flows or -c packets, and on
// cancellation or a damaged capture still exports every flow read so far
// before returning the error.
//
// It has three runners:
//
//   - One meter reading for itself (Run with Config.Meters 0 or 1, the
//     default for files; meterAll): the calling goroutine reads, decodes
//     and meters batch after batch, and the meter runs NFStream's idle
//     scans itself. Without nDPI or plugins no other goroutine: the
//     hand-overs would cost more than they save. With them the meter runs
//     on a goroutine of its own while the reader decodes ahead, and with
//     nDPI and no plugin, nDPI runs on a third goroutine behind the meter,
//     with the same single detection module (split.go).
//   - A reader sharding to several meters (Run with Config.Meters > 1;
//     meterSharded, shard.go): a reader goroutine decodes and sends each
//     packet to one meter goroutine by NFStream's direction-symmetric hash,
//     clamps time for the whole capture and decides where idle scans fall;
//     the meters only note, at each scan point, which flows became idle,
//     and every so many packets a round lets a coordinator replay the
//     scans as a single meter runs them, tell the meters what to expire,
//     and merge their records by features.Order. The output is one
//     meter's, byte for byte, except nDPI values decided from per-meter
//     caches.
//   - Live rings (RunLive, live.go): one meter goroutine per AF_PACKET
//     ring, the kernel's fanout keeping a flow on one ring; the meters
//     expire least recently seen flows first and also on the wall clock,
//     and a single writer numbers flows in arrival order.
//
// A meter's record is valid only during its export call: the sharded and
// live runners, and the split dissection, copy records before handing them
// to another goroutine.
// docs/design.md describes the runners, the merge and who owns which buffer.
package pipeline
