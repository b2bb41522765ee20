package output_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/plugin"
)

func udpsRecord(id uint64, kv ...any) *features.Record {
	r := &features.Record{ID: id, IPVersion: 4, Protocol: 17, SrcPort: 1000 + uint16(id), DstPort: 53}
	r.UDPS = &features.UDPS{}
	for i := 0; i < len(kv); i += 2 {
		r.UDPS.Set(kv[i].(string), kv[i+1], "test.star")
	}
	return r
}

// TestParquetUDPS writes udps columns of every type and reads them back
// with Apache Arrow: the type comes from the first flow, None is null, an
// int in a float column is converted, a missing value is null.
func TestParquetUDPS(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	sink := plugin.NewColumnSink(output.NewParquet(f, path, output.ParquetConfig{}))
	if err := sink.Begin(features.Schema{}.Columns()); err != nil {
		t.Fatal(err)
	}
	recs := []*features.Record{
		udpsRecord(0, "i", int64(7), "f", 0.5, "b", true, "s", "x", "n", nil, "l", []any{int64(1), int64(2)}, "ls", []any{"a"}, "e", []any{}),
		udpsRecord(1, "i", nil, "f", int64(3), "b", false, "s", "y", "n", int64(5), "l", []any{}, "ls", nil, "e", []any{int64(4)}),
		udpsRecord(2),
	}
	for _, r := range recs {
		if err := sink.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tbl, _ := arrowTable(t, path)
	want := map[string][]string{
		"udps.i":  {"7", "(null)", "(null)"},
		"udps.f":  {"0.5", "3", "(null)"},
		"udps.b":  {"true", "false", "(null)"},
		"udps.s":  {"x", "y", "(null)"},
		"udps.n":  {"(null)", "5", "(null)"},
		"udps.l":  {"[1,2]", "[]", "(null)"},
		"udps.ls": {`["a"]`, "(null)", "(null)"},
		"udps.e":  {"[]", "[4]", "(null)"},
	}
	schema := tbl.Schema()
	for name, cells := range want {
		idx := schema.FieldIndices(name)
		if len(idx) != 1 {
			t.Fatalf("no column %s in %s", name, schema)
		}
		arr := tbl.Column(idx[0]).Data().Chunk(0)
		for i, w := range cells {
			got := arr.ValueStr(i)
			if arr.IsNull(i) {
				got = "(null)"
			}
			if got != w {
				t.Errorf("%s row %d: %s, want %s (type %s)", name, i, got, w, arr.DataType())
			}
		}
	}
}

func TestParquetUDPSMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sink := plugin.NewColumnSink(output.NewParquet(f, path, output.ParquetConfig{}))
	sink.Begin(features.Schema{}.Columns())
	if err := sink.Write(udpsRecord(0, "i", int64(1))); err != nil {
		t.Fatal(err)
	}
	err = sink.Write(udpsRecord(1, "i", "one"))
	if err == nil || !strings.Contains(err.Error(), "test.star") || !strings.Contains(err.Error(), "udps.i") || !strings.Contains(err.Error(), ":1001 ->") {
		t.Fatalf("error %v", err)
	}
}
