package output_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/pipeline"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
	"github.com/nfstream-go/nfstream/internal/testing/testgen"
)

// benchFlows is the number of records each sink writes per iteration.
const benchFlows = 200_000

// benchSchema is what a typical run writes: the defaults (tunnel_id and
// the nine nDPI columns) with --stats --splt 10.
var benchSchema = features.Schema{Tunnel: true, Stats: true, SPLT: true, L7: true}

// benchConfig is NFStream's defaults (20 dissections) with --stats
// --splt 10.
func benchConfig(sources ...string) pipeline.FileConfig {
	cfg := runConfig(sources...)
	cfg.Meter.Dissections = 20
	return cfg
}

// largeRecords meters a capture from the project's generator: 200k
// distinct flows over 1M packets (TCP and UDP, a tenth IPv6), streamed
// through a pipe.
func largeRecords(b *testing.B) []features.Record {
	pr, pw := io.Pipe()
	go func() {
		_, err := testgen.WriteLarge(pw, testgen.LargeConfig{Packets: 1_000_000, Flows: benchFlows})
		pw.CloseWithError(err)
	}()
	cfg := benchConfig("generated")
	cfg.Open = func(name string) (capture.Source, error) { return capture.NewReader(pr, name) }
	var rec recorder
	if _, err := pipeline.Run(context.Background(), cfg, &rec, benchSchema.Columns()); err != nil {
		b.Fatal(err)
	}
	return rec.recs
}

// corpusRecords meters NFStream's corpus captures (real traffic, with what
// nDPI finds in it) and repeats their flows up to 200k.
func corpusRecords(b *testing.B) []features.Record {
	var rec recorder
	for _, c := range corpus.Captures(b, corpus.Dir(b)) {
		if _, err := pipeline.Run(context.Background(), benchConfig(c.Path), &rec, benchSchema.Columns()); err != nil {
			b.Fatal(err)
		}
	}
	base := rec.recs
	out := make([]features.Record, benchFlows)
	for i := range out {
		out[i] = base[i%len(base)]
		out[i].ID = uint64(i)
	}
	return out
}

// BenchmarkSinks writes the same records with every sink to files, in one
// run, and reports flows per second and bytes per flow. The corpus set
// repeats ~5k real flows, which flatters the compressors whose window
// reaches the repeats; the generated set has 200k distinct flows.
func BenchmarkSinks(b *testing.B) {
	sets := []struct {
		name string
		recs func(*testing.B) []features.Record
	}{
		{"generated", largeRecords},
		{"corpus", corpusRecords},
	}
	sinks := []struct {
		name, file string
		cfg        output.FileConfig
	}{
		{"csv", "flows.csv", output.FileConfig{Format: output.FormatCSV}},
		{"csv.gz", "flows.csv.gz", output.FileConfig{Format: output.FormatCSV, Text: output.Gzip}},
		{"csv.zst", "flows.csv.zst", output.FileConfig{Format: output.FormatCSV, Text: output.Zstd}},
		{"jsonl", "flows.jsonl", output.FileConfig{Format: output.FormatJSONL}},
		{"jsonl.gz", "flows.jsonl.gz", output.FileConfig{Format: output.FormatJSONL, Text: output.Gzip}},
		{"jsonl.zst", "flows.jsonl.zst", output.FileConfig{Format: output.FormatJSONL, Text: output.Zstd}},
		{"parquet-zstd", "flows.parquet", output.FileConfig{Format: output.FormatParquet}},
		{"parquet-snappy", "flows.parquet", output.FileConfig{Format: output.FormatParquet, Parquet: output.ParquetConfig{Compression: "snappy"}}},
		{"parquet-none", "flows.parquet", output.FileConfig{Format: output.FormatParquet, Parquet: output.ParquetConfig{Compression: "none"}}},
	}
	cols := benchSchema.Columns()
	for _, set := range sets {
		b.Run(set.name, func(b *testing.B) {
			recs := set.recs(b)
			dir := b.TempDir()
			for _, s := range sinks {
				b.Run(s.name, func(b *testing.B) {
					path := filepath.Join(dir, s.file)
					var size int64
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						sink, err := s.cfg.Create(path)
						if err != nil {
							b.Fatal(err)
						}
						if err := sink.Begin(cols); err != nil {
							b.Fatal(err)
						}
						for k := range recs {
							if err := sink.Write(&recs[k]); err != nil {
								b.Fatal(err)
							}
						}
						if err := sink.Close(); err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					if st, err := os.Stat(path); err == nil {
						size = st.Size()
					}
					n := float64(len(recs)) * float64(b.N)
					b.ReportMetric(n/b.Elapsed().Seconds(), "flows/s")
					b.ReportMetric(float64(size)/float64(len(recs)), "B/flow")
					b.ReportMetric(0, "ns/op")
					os.Remove(path)
				})
			}
		})
	}
}

// BenchmarkRows formats the corpus's flows as CSV and JSONL rows into a
// reused buffer, the formatters' work on the file path (RowSink.Rows),
// without the destination: with the defaults' columns (nDPI on) and with
// --n-dissections 0 (no L7 columns), both with --stats --splt 10.
func BenchmarkRows(b *testing.B) {
	recs := corpusRecords(b)
	for _, sc := range []struct {
		name   string
		schema features.Schema
	}{
		{"dpi", benchSchema},
		{"nodpi", features.Schema{Tunnel: true, Stats: true, SPLT: true}},
	} {
		cols := sc.schema.Columns()
		for _, f := range []struct {
			name string
			sink output.RowSink
		}{
			{"csv", output.NewCSV(io.Discard, "bench")},
			{"jsonl", output.NewJSONL(io.Discard, "bench")},
		} {
			b.Run(sc.name+"/"+f.name, func(b *testing.B) {
				if err := f.sink.Begin(cols); err != nil {
					b.Fatal(err)
				}
				row := f.sink.Rows()
				var buf []byte
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					buf = row(buf[:0], &recs[i%len(recs)])
				}
			})
		}
	}
}
