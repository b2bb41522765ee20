package output_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// arrowTable reads a whole Parquet file with Apache Arrow's Go
// implementation, independent of the parquet-go library that wrote it.
func arrowTable(t testing.TB, path string) (arrow.Table, *file.Reader) {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("arrow cannot open %s: %v", path, err)
	}
	t.Cleanup(func() { pf.Close() })
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 4096}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("arrow cannot read %s: %v", path, err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatalf("arrow cannot read the table of %s: %v", path, err)
	}
	t.Cleanup(tbl.Release)
	return tbl, pf
}

// readCSV reads a CSV file with encoding/csv.
func readCSV(t testing.TB, data []byte) (header []string, rows [][]string) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		t.Fatalf("encoding/csv: %v", err)
	}
	if len(recs) == 0 {
		t.Fatal("CSV without header")
	}
	return recs[0], recs[1:]
}

// compareWithCSV checks that the Parquet table holds the CSV's columns in
// the same order and, cell by cell, the same values: integers equal the
// CSV's decimal text, floats the double the CSV's text parses to (bit for
// bit), strings the CSV's text, lists the CSV's "[a, b]" text.
func compareWithCSV(t testing.TB, what string, tbl arrow.Table, header []string, rows [][]string) {
	t.Helper()
	if int(tbl.NumCols()) != len(header) {
		t.Fatalf("%s: %d Parquet columns, %d CSV columns", what, tbl.NumCols(), len(header))
	}
	if int(tbl.NumRows()) != len(rows) {
		t.Fatalf("%s: %d Parquet rows, %d CSV rows", what, tbl.NumRows(), len(rows))
	}
	errs := 0
	for c := 0; c < int(tbl.NumCols()); c++ {
		name := tbl.Schema().Field(c).Name
		if name != header[c] {
			t.Fatalf("%s: column %d is %q in Parquet, %q in CSV", what, c, name, header[c])
		}
		row := 0
		for _, chunk := range tbl.Column(c).Data().Chunks() {
			for i := 0; i < chunk.Len(); i++ {
				if err := cellEqual(chunk, i, rows[row][c]); err != nil {
					if errs++; errs <= 10 {
						t.Errorf("%s: row %d column %s: %v", what, row, name, err)
					}
				}
				row++
			}
		}
	}
	if errs > 10 {
		t.Errorf("%s: %d differences in all", what, errs)
	}
}

func cellEqual(arr arrow.Array, i int, text string) error {
	if arr.IsNull(i) {
		return fmt.Errorf("null in Parquet, %q in CSV", text)
	}
	var got string
	switch a := arr.(type) {
	case *array.Uint8:
		got = strconv.FormatUint(uint64(a.Value(i)), 10)
	case *array.Uint16:
		got = strconv.FormatUint(uint64(a.Value(i)), 10)
	case *array.Uint32:
		got = strconv.FormatUint(uint64(a.Value(i)), 10)
	case *array.Int8:
		got = strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int16:
		got = strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int32:
		got = strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int64:
		got = strconv.FormatInt(a.Value(i), 10)
	case *array.Float64:
		want, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return fmt.Errorf("CSV float %q: %v", text, err)
		}
		v := a.Value(i)
		if math.Float64bits(v) != math.Float64bits(want) && !(math.IsNaN(v) && math.IsNaN(want)) {
			return fmt.Errorf("Parquet %v, CSV %q", v, text)
		}
		return nil
	case *array.String:
		got = a.Value(i)
	case *array.List:
		start, end := a.ValueOffsets(i)
		var b strings.Builder
		b.WriteByte('[')
		for k := start; k < end; k++ {
			if k > start {
				b.WriteString(", ")
			}
			if err := appendInt(&b, a.ListValues(), int(k)); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		got = b.String()
	default:
		return fmt.Errorf("unexpected Arrow type %s", arr.DataType())
	}
	if got != text {
		return fmt.Errorf("Parquet %q, CSV %q", got, text)
	}
	return nil
}

func appendInt(b *strings.Builder, arr arrow.Array, i int) error {
	switch a := arr.(type) {
	case *array.Int8:
		b.WriteString(strconv.FormatInt(int64(a.Value(i)), 10))
	case *array.Int16:
		b.WriteString(strconv.FormatInt(int64(a.Value(i)), 10))
	case *array.Int32:
		b.WriteString(strconv.FormatInt(int64(a.Value(i)), 10))
	case *array.Int64:
		b.WriteString(strconv.FormatInt(a.Value(i), 10))
	default:
		return fmt.Errorf("unexpected list element type %s", arr.DataType())
	}
	return nil
}
