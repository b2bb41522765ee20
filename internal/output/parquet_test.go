package output_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/meter"
	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/pipeline"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// fullSchema has every column group, so every column kind and width is
// written.
var fullSchema = features.Schema{Tunnel: true, Stats: true, SPLT: true, L7: true}

// tee passes every call to each of its sinks: one run, several outputs.
type tee []output.Sink

func (t tee) Begin(cols []features.Column) error {
	for _, s := range t {
		if err := s.Begin(cols); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) Write(r *features.Record) error {
	for _, s := range t {
		if err := s.Write(r); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) Close() error {
	var first error
	for _, s := range t {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// runConfig is NFStream's defaults with --stats --splt 10.
func runConfig(sources ...string) pipeline.FileConfig {
	return pipeline.FileConfig{
		Sources: sources,
		Common: pipeline.Common{
			Decode: decode.Options{DecodeTunnels: true},
			Meter: meter.Config{
				Features:      features.Config{Stats: true, SPLT: 10},
				IdleTimeout:   120_000,
				ActiveTimeout: 1_800_000,
			},
		},
	}
}

// runCSVAndParquet runs the pipeline once over sources into a CSV buffer
// and a Parquet file at the same time.
func runCSVAndParquet(t testing.TB, dir string, pcfg output.ParquetConfig, sources ...string) ([]byte, string, pipeline.Stats) {
	t.Helper()
	var csvBuf bytes.Buffer
	path := filepath.Join(dir, filepath.Base(sources[0])+".parquet")
	fc := output.FileConfig{Format: output.FormatParquet, Parquet: pcfg}
	pqSink, err := fc.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := pipeline.Run(context.Background(), runConfig(sources...), tee{output.NewCSV(&csvBuf, "buffer"), pqSink}, fullSchema.Columns())
	if err != nil {
		t.Fatalf("%s: %v", sources[0], err)
	}
	return csvBuf.Bytes(), path, st
}

func generatedCaptures(t testing.TB) []string {
	t.Helper()
	var caps []string
	for _, pat := range []string{"*.pcap", "*.pcapng"} {
		m, err := filepath.Glob(filepath.Join(corpus.RepoRoot(t), "testdata", pat))
		if err != nil {
			t.Fatal(err)
		}
		caps = append(caps, m...)
	}
	if len(caps) == 0 {
		t.Fatal("no captures in testdata/")
	}
	slices.Sort(caps)
	return caps
}

// TestParquetEqualsCSVGenerated reads back with Apache Arrow the Parquet
// file of each generated capture (--stats --splt 10) and compares every
// value with the CSV of the same run.
func TestParquetEqualsCSVGenerated(t *testing.T) {
	dir := t.TempDir()
	total := 0
	for _, c := range generatedCaptures(t) {
		csvText, path, st := runCSVAndParquet(t, dir, output.ParquetConfig{}, c)
		tbl, _ := arrowTable(t, path)
		header, rows := readCSV(t, csvText)
		compareWithCSV(t, filepath.Base(c), tbl, header, rows)
		if int(st.Flows) != len(rows) {
			t.Errorf("%s: %d flows, %d rows", c, st.Flows, len(rows))
		}
		total += len(rows)
	}
	t.Logf("%d flows compared", total)
}

// TestParquetEqualsCSVCorpus does the same for NFStream's corpus captures,
// with small row groups so that many files have several.
func TestParquetEqualsCSVCorpus(t *testing.T) {
	dir := corpus.Dir(t)
	if testing.Short() {
		t.Skip("-short: the corpus comparison reads every corpus capture")
	}
	tmp := t.TempDir()
	total, files := 0, 0
	for _, c := range corpus.Captures(t, dir) {
		csvText, path, _ := runCSVAndParquet(t, tmp, output.ParquetConfig{RowGroupRows: 100}, c.Path)
		tbl, _ := arrowTable(t, path)
		header, rows := readCSV(t, csvText)
		compareWithCSV(t, c.Name, tbl, header, rows)
		total += len(rows)
		files++
		os.Remove(path)
	}
	t.Logf("%d flows of %d corpus captures compared", total, files)
}

// TestParquetTypes checks the physical and logical type of every column as
// Arrow's reader sees them, the dictionary encoding of strings, the codec
// and the key/value metadata.
func TestParquetTypes(t *testing.T) {
	c := filepath.Join(corpus.RepoRoot(t), "testdata", "eth_ipv4.pcap")
	_, path, _ := runCSVAndParquet(t, t.TempDir(), output.ParquetConfig{
		Metadata:    []output.KeyValue{{Key: "nfstream.version", Value: "test"}, {Key: "nfstream.splt", Value: "10"}},
		Application: "nfstream", Version: "9.9.9",
	}, c)
	tbl, pf := arrowTable(t, path)
	type want struct {
		arrow  arrow.DataType
		phys   pq.Type
		bits   int8 // of the integer logical type, 0 when none
		signed bool
	}
	u8 := want{arrow.PrimitiveTypes.Uint8, pq.Types.Int32, 8, false}
	u16 := want{arrow.PrimitiveTypes.Uint16, pq.Types.Int32, 16, false}
	i64 := want{arrow.PrimitiveTypes.Int64, pq.Types.Int64, 64, true}
	f64 := want{arrow.PrimitiveTypes.Float64, pq.Types.Double, 0, false}
	str := want{arrow.BinaryTypes.String, pq.Types.ByteArray, 0, false}
	expect := map[string]want{
		"id":                          i64,
		"expiration_id":               {arrow.PrimitiveTypes.Int8, pq.Types.Int32, 8, true},
		"src_ip":                      str,
		"src_port":                    u16,
		"dst_port":                    u16,
		"vlan_id":                     u16,
		"protocol":                    u8,
		"ip_version":                  u8,
		"tunnel_id":                   u8,
		"bidirectional_first_seen_ms": i64,
		"src2dst_bytes":               i64,
		"bidirectional_mean_ps":       f64,
		"dst2src_stddev_piat_ms":      f64,
		"application_is_guessed":      u8,
		"application_confidence":      u8,
		"application_name":            str,
		"splt_direction":              {arrow.ListOf(arrow.PrimitiveTypes.Int8), pq.Types.Int32, 8, true},
		"splt_ps":                     {arrow.ListOf(arrow.PrimitiveTypes.Int32), pq.Types.Int32, 32, true},
		"splt_piat_ms":                {arrow.ListOf(arrow.PrimitiveTypes.Int64), pq.Types.Int64, 64, true},
	}
	sch := pf.MetaData().Schema
	rg := pf.MetaData().RowGroup(0)
	for i, f := range tbl.Schema().Fields() {
		leaf := sch.Column(i)
		if !strings.HasPrefix(leaf.Path(), f.Name) {
			t.Fatalf("leaf %d is %s, field %s", i, leaf.Path(), f.Name)
		}
		chunk, err := rg.ColumnChunk(i)
		if err != nil {
			t.Fatal(err)
		}
		if chunk.Compression() != compress.Codecs.Zstd {
			t.Errorf("%s: codec %v, want zstd", f.Name, chunk.Compression())
		}
		if leaf.PhysicalType() == pq.Types.ByteArray {
			if _, ok := leaf.LogicalType().(schema.StringLogicalType); !ok {
				t.Errorf("%s: logical type %v, want String", f.Name, leaf.LogicalType())
			}
			if !slices.Contains(chunk.Encodings(), pq.Encodings.RLEDict) && !slices.Contains(chunk.Encodings(), pq.Encodings.PlainDict) {
				t.Errorf("%s: encodings %v, want a dictionary", f.Name, chunk.Encodings())
			}
		}
		w, ok := expect[f.Name]
		if !ok {
			continue
		}
		delete(expect, f.Name)
		got := f.Type
		if l, ok := got.(*arrow.ListType); ok {
			got = arrow.ListOf(l.Elem()) // element name and nullability aside
		}
		if !arrow.TypeEqual(got, w.arrow) {
			t.Errorf("%s: Arrow type %s, want %s", f.Name, f.Type, w.arrow)
		}
		if leaf.PhysicalType() != w.phys {
			t.Errorf("%s: physical type %s, want %s", f.Name, leaf.PhysicalType(), w.phys)
		}
		if w.bits != 0 {
			it, ok := leaf.LogicalType().(schema.IntLogicalType)
			if !ok {
				t.Errorf("%s: logical type %v, want INT(%d)", f.Name, leaf.LogicalType(), w.bits)
			} else if it.BitWidth() != w.bits || it.IsSigned() != w.signed {
				t.Errorf("%s: logical type %v, want INT(%d, signed=%v)", f.Name, it, w.bits, w.signed)
			}
		}
	}
	if len(expect) > 0 {
		t.Errorf("columns missing: %v", expect)
	}
	kv := pf.MetaData().KeyValueMetadata()
	if v := kv.FindValue("nfstream.splt"); v == nil || *v != "10" {
		t.Errorf("metadata nfstream.splt = %v, want 10", v)
	}
	if by := pf.MetaData().GetCreatedBy(); !strings.HasPrefix(by, "nfstream version 9.9.9") {
		t.Errorf("created_by %q", by)
	}
}

// TestParquetCodecs writes each codec and reads it back.
func TestParquetCodecs(t *testing.T) {
	c := filepath.Join(corpus.RepoRoot(t), "testdata", "eth_ipv6.pcap")
	want := map[string]compress.Compression{"zstd": compress.Codecs.Zstd, "snappy": compress.Codecs.Snappy,
		"gzip": compress.Codecs.Gzip, "none": compress.Codecs.Uncompressed}
	for _, codec := range output.Codecs {
		csvText, path, _ := runCSVAndParquet(t, t.TempDir(), output.ParquetConfig{Compression: codec}, c)
		tbl, pf := arrowTable(t, path)
		header, rows := readCSV(t, csvText)
		compareWithCSV(t, codec, tbl, header, rows)
		chunk, err := pf.MetaData().RowGroup(0).ColumnChunk(0)
		if err != nil {
			t.Fatal(err)
		}
		if chunk.Compression() != want[codec] {
			t.Errorf("%s: codec %v in the file", codec, chunk.Compression())
		}
	}
}

// TestParquetNoFlows: a run without flows gives a valid file with the
// columns and no rows.
func TestParquetNoFlows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.parquet")
	fc := output.FileConfig{Format: output.FormatParquet}
	s, err := fc.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cols := fullSchema.Columns()
	if err := s.Begin(cols); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	tbl, _ := arrowTable(t, path)
	if tbl.NumRows() != 0 || int(tbl.NumCols()) != len(cols) {
		t.Errorf("%d rows, %d columns; want 0 and %d", tbl.NumRows(), tbl.NumCols(), len(cols))
	}
}

// countingWriter counts and discards.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// TestParquetMemoryBounded writes many rows and checks that the live heap
// does not grow with their number: a row group is written when full and
// then forgotten (only its footer entry, a few hundred bytes per column,
// stays).
func TestParquetMemoryBounded(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("-short or -race: a heap measurement over 500k rows")
	}
	recs := sampleRecords(t)
	cols := fullSchema.Columns()
	w := &countingWriter{}
	s := output.NewParquet(w, "count", output.ParquetConfig{RowGroupRows: 8192})
	if err := s.Begin(cols); err != nil {
		t.Fatal(err)
	}
	write := func(n int) {
		for i := 0; i < n; i++ {
			r := recs[i%len(recs)]
			r.ID = uint64(i)
			r.Bidirectional.Packets += uint64(i) // vary the values a little
			if err := s.Write(&r); err != nil {
				t.Fatal(err)
			}
		}
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	write(50_000)
	before := heap()
	write(450_000)
	after := heap()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("heap after 50k rows %.1f MiB, after 500k rows %.1f MiB; file %.1f MiB", mib(before), mib(after), mib(w.n))
	// 55 more row groups of ~110 columns leave footer entries behind:
	// allow 8 MiB for them, far below what 450k buffered rows would take.
	if after > before+8<<20 {
		t.Errorf("heap grew from %.1f to %.1f MiB over 450k rows", mib(before), mib(after))
	}
}

func mib[T int64 | uint64](n T) float64 { return float64(n) / (1 << 20) }

// recorder keeps copies of the records written to it.
type recorder struct{ recs []features.Record }

func (r *recorder) Begin([]features.Column) error { return nil }
func (r *recorder) Close() error                  { return nil }
func (r *recorder) Write(rec *features.Record) error {
	r.recs = append(r.recs, rec.Clone())
	return nil
}

// sampleRecords returns the flows of every generated capture, with
// --stats --splt 10.
func sampleRecords(t testing.TB) []features.Record {
	t.Helper()
	var rec recorder
	for _, c := range generatedCaptures(t) {
		if _, err := pipeline.Run(context.Background(), runConfig(c), &rec, fullSchema.Columns()); err != nil {
			t.Fatal(err)
		}
	}
	return rec.recs
}
