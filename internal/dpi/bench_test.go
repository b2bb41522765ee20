//go:build cgo

package dpi

import (
	"testing"
)

// BenchmarkProcess measures one ndpi_detection_process_packet call through
// the binding, over every packet of a realistic mix (packetMix), each flow
// dissected from its first packet to its last. Flows are recreated, out of
// the timer, each time the mix starts again.
func BenchmarkProcess(b *testing.B) {
	pkts, nflows := packetMix(b)
	e := newEngine(b)
	flows := make([]Flow, nflows)
	reset := func() {
		for i := range flows {
			e.FreeFlow(&flows[i])
			flows[i] = e.NewFlow()
		}
	}
	reset()
	defer func() {
		for i := range flows {
			e.FreeFlow(&flows[i])
		}
	}()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(pkts) {
			b.StopTimer()
			reset()
			i = 0
			b.StartTimer()
		}
		p := &pkts[i]
		e.Process(flows[p.flow], p.ip, p.ms)
		i++
	}
}

// BenchmarkDissect measures NFStream's whole dissection path per packet
// of the mix: the budget of 20 (Process, ExtraDissectionPossible,
// GiveUp), then Collect and FreeFlow once per flow. Reported per packet.
func BenchmarkDissect(b *testing.B) {
	pkts, nflows := packetMix(b)
	e := newEngine(b)
	b.ReportAllocs()
	for b.Loop() {
		dissect(e, pkts, nflows, 20)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/packet")
}

// BenchmarkCollect measures Collect on a finished TLS flow (three per-flow
// strings: SNI, JA3, JA3S).
func BenchmarkCollect(b *testing.B) {
	e := newEngine(b)
	f := e.NewFlow()
	defer e.FreeFlow(&f)
	var p Protocol
	for _, pk := range oneFlow(b, tlsSYN, tlsSYNACK, tlsACK, tlsClientHello, tlsServerHello) {
		p = e.Process(f, pk.ip, pk.ms)
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Collect(f, p)
	}
}
