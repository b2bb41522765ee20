package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/testing/testgen"
)

// largeCapture returns the benchmarks' large generated capture (see
// testgen.LargeConfigFromEnv), cached in the temporary folder.
func largeCapture(b *testing.B) (string, testgen.LargeConfig) {
	b.Helper()
	cfg := testgen.LargeConfigFromEnv()
	path, err := testgen.LargeFile(os.TempDir(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return path, cfg
}

// readAll is the baseline: a bare loop that only reads the file.
func readAll(b *testing.B, path string) uint64 {
	src, err := capture.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	var pkt capture.Packet
	var n uint64
	for {
		err := src.Next(&pkt)
		if err == io.EOF {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
}

// parallelism measures how many cores the machine gives this process now:
// the throughput of a CPU-bound loop run in NumCPU goroutines over the
// same loop in one. On a shared machine it can be well below NumCPU, and
// then a pipeline of several goroutines, or several meters, cannot run
// faster than their summed work; reported beside the rates to read them.
func parallelism() float64 {
	spin := func(n int) uint64 {
		x := uint64(1)
		for range n {
			x = x*6364136223846793005 + 1442695040888963407
		}
		return x
	}
	const n = 100_000_000
	start := time.Now()
	sink := spin(n)
	one := time.Since(start)
	g := runtime.NumCPU()
	results := make(chan uint64, g)
	start = time.Now()
	for range g {
		go func() { results <- spin(n) }()
	}
	for range g {
		sink += <-results
	}
	all := time.Since(start)
	if sink == 0 { // never: keeps the loops from being optimised away
		return 0
	}
	return float64(g) * one.Seconds() / all.Seconds()
}

// countSink counts flows and writes nothing: it isolates the meter from
// the cost of formatting (measured by the sink benchmarks).
type countSink struct{ n uint64 }

func (c *countSink) Begin([]features.Column) error { return nil }
func (c *countSink) Write(*features.Record) error  { c.n++; return nil }
func (c *countSink) Close() error                  { return nil }

// BenchmarkThroughput measures, in the same run, the packet rate of a bare
// read loop and of one meter with --n-dissections 0 --stats --splt 10 on a
// large generated capture: once handing flows to a sink that only counts
// them, once writing CSV to io.Discard. It reports both rates and their
// ratios to the bare loop (the target for the meter is at least 0.20):
// over all b.N rounds (meter-ratio), and between the best round of each
// (meter-ratio-best), the steady state of a long run, whose memory is
// already mapped, on a machine whose noise only ever slows a round down.
// Run it with -benchtime 3x or more.
func BenchmarkThroughput(b *testing.B) {
	path, gen := largeCapture(b)
	schema := features.Schema{Tunnel: true, Stats: true, SPLT: true}
	var readTime, meterTime, csvTime time.Duration
	var readBest, meterBest time.Duration
	var packets uint64
	run := func(sink output.Sink) time.Duration {
		start := time.Now()
		cfg := nfstreamDefaults([]string{path}, features.AccountLink, true, 10)
		st, err := Run(context.Background(), cfg, sink, schema.Columns())
		d := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if st.Packets != packets || st.Flows < uint64(gen.Flows) {
			b.Fatalf("metered %d packets into %d flows; the capture has %d packets, %d flows", st.Packets, st.Flows, packets, gen.Flows)
		}
		return d
	}
	best := func(b *time.Duration, d time.Duration) {
		if *b == 0 || d < *b {
			*b = d
		}
	}
	for i := 0; i < b.N; i++ {
		start := time.Now()
		packets = readAll(b, path)
		d := time.Since(start)
		readTime += d
		best(&readBest, d)
		d = run(&countSink{})
		meterTime += d
		best(&meterBest, d)
		csvTime += run(output.NewCSV(io.Discard, "discard"))
	}
	total := float64(packets) * float64(b.N)
	readRate, meterRate, csvRate := total/readTime.Seconds(), total/meterTime.Seconds(), total/csvTime.Seconds()
	b.ReportMetric(readRate, "read-pkts/s")
	b.ReportMetric(meterRate, "meter-pkts/s")
	b.ReportMetric(meterRate/readRate, "meter-ratio")
	b.ReportMetric(readBest.Seconds()/meterBest.Seconds(), "meter-ratio-best")
	b.ReportMetric(csvRate, "csv-pkts/s")
	b.ReportMetric(csvRate/readRate, "csv-ratio")
	b.ReportMetric(parallelism(), "cores")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkMeters measures, in the same run, the packet rate of 1, 2 and 4
// meters (--n-dissections 0 --stats --splt 10, counting sink) on the large
// generated capture, and the speed-up of 2 and 4 meters over one.
func BenchmarkMeters(b *testing.B) {
	path, _ := largeCapture(b)
	schema := features.Schema{Tunnel: true, Stats: true, SPLT: true}
	counts := []int{1, 2, 4}
	elapsed := make([]time.Duration, len(counts))
	var packets uint64
	for i := 0; i < b.N; i++ {
		for j, n := range counts {
			cfg := nfstreamDefaults([]string{path}, features.AccountLink, true, 10)
			cfg.Meters = n
			start := time.Now()
			st, err := Run(context.Background(), cfg, &countSink{}, schema.Columns())
			elapsed[j] += time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			packets = st.Packets
		}
	}
	for j, n := range counts {
		rate := float64(packets) * float64(b.N) / elapsed[j].Seconds()
		b.ReportMetric(rate, fmt.Sprintf("meters%d-pkts/s", n))
		if j > 0 {
			b.ReportMetric(elapsed[0].Seconds()/elapsed[j].Seconds(), fmt.Sprintf("speedup%d", n))
		}
	}
	b.ReportMetric(parallelism(), "cores")
	b.ReportMetric(0, "ns/op")
}
