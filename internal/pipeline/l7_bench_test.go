package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// benchDissection measures, in the same run, the packet rate of one meter
// with --n-dissections 0 and with --n-dissections 20 (NFStream's defaults
// otherwise) over the same sources read as one capture, the two runs
// taking turns in every iteration, and reports both rates and their ratio.
// Flows go to a sink that only counts them, so the cost measured is the
// meter's and nDPI's, not formatting.
func benchDissection(b *testing.B, sources []string) {
	needDPI(b)
	var packets, flows uint64
	run := func(n int) time.Duration {
		start := time.Now()
		var sink countSink
		st, err := Run(context.Background(), l7Defaults(sources, n), &sink, nil)
		d := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if packets != 0 && (st.Packets != packets || st.Flows != flows) {
			b.Fatalf("--n-dissections %d read %d packets into %d flows, the other run %d into %d", n, st.Packets, st.Flows, packets, flows)
		}
		packets, flows = st.Packets, st.Flows
		return d
	}
	run(0) // the files into the page cache, and the flow counts
	b.ResetTimer()
	var off, on time.Duration
	for i := 0; i < b.N; i++ {
		off += run(0)
		on += run(20)
	}
	total := float64(packets) * float64(b.N)
	offRate, onRate := total/off.Seconds(), total/on.Seconds()
	b.ReportMetric(offRate, "n0-pkts/s")
	b.ReportMetric(onRate, "n20-pkts/s")
	b.ReportMetric(onRate/offRate, "n20/n0")
	b.ReportMetric(float64(packets), "pkts/run")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkDissectionCorpus is benchDissection over NFStream's whole test
// corpus as one capture (every file in name order, about 100,000 packets
// of real traffic in some 5,000 flows): the mix nDPI is meant for, where
// most flows are identified within a few packets.
func BenchmarkDissectionCorpus(b *testing.B) {
	dir := corpus.Dir(b)
	var sources []string
	for _, c := range corpus.Captures(b, dir) {
		// A capture libpcap cannot read to the end would end the run there.
		if _, err := Run(context.Background(), l7Defaults([]string{c.Path}, 0), &countSink{}, nil); err == nil {
			sources = append(sources, c.Path)
		}
	}
	benchDissection(b, sources)
}

// BenchmarkDissectionGenerated is benchDissection over the large capture
// the project generates (BenchmarkThroughput's). Its payloads are mostly
// random bytes that mean nothing to nDPI, so most flows are never
// identified: nDPI sees each of their packets, up to the budget, and gives
// up with a port guess at the end. Close to the most work the budget
// allows, unlike the corpus.
func BenchmarkDissectionGenerated(b *testing.B) {
	path, _ := largeCapture(b)
	benchDissection(b, []string{path})
}
