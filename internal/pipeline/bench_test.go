package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/testgen"
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
// ratios to the bare loop (the target for the meter is at least 0.20).
func BenchmarkThroughput(b *testing.B) {
	path, gen := largeCapture(b)
	schema := features.Schema{Tunnel: true, Stats: true, SPLT: true}
	var readTime, meterTime, csvTime time.Duration
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
	for i := 0; i < b.N; i++ {
		start := time.Now()
		packets = readAll(b, path)
		readTime += time.Since(start)
		meterTime += run(&countSink{})
		csvTime += run(output.NewCSV(io.Discard, "discard"))
	}
	total := float64(packets) * float64(b.N)
	readRate, meterRate, csvRate := total/readTime.Seconds(), total/meterTime.Seconds(), total/csvTime.Seconds()
	b.ReportMetric(readRate, "read-pkts/s")
	b.ReportMetric(meterRate, "meter-pkts/s")
	b.ReportMetric(meterRate/readRate, "meter-ratio")
	b.ReportMetric(csvRate, "csv-pkts/s")
	b.ReportMetric(csvRate/readRate, "csv-ratio")
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
	b.ReportMetric(0, "ns/op")
}
