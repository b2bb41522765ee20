package output

import (
	"strings"
	"testing"
	"time"
)

// TestValidate checks each config's Validate against a table of bad
// values: every error names its field.
func TestValidate(t *testing.T) {
	create := func(string) (Sink, error) { return nil, nil }
	for _, tc := range []struct {
		field string
		err   error
	}{
		{"Format", (&FileConfig{Format: FormatParquet + 1}).Validate()},
		{"Text", (&FileConfig{Format: FormatParquet, Text: Gzip}).Validate()},
		{"LiveFlush", (&FileConfig{LiveFlush: -time.Second}).Validate()},
		{"Compression", (&FileConfig{Format: FormatParquet, Parquet: ParquetConfig{Compression: "lz4"}}).Validate()},
		{"RowGroupRows", (&ParquetConfig{RowGroupRows: MinRowGroupRows - 1 - 1}).Validate()},
		{"RowGroupRows", (&ParquetConfig{RowGroupRows: -5}).Validate()},
		{"Create", (&RotateConfig{Template: "f-%H.csv", Interval: time.Hour}).Validate()},
		{"Interval", (&RotateConfig{Template: "f-%H.csv", Interval: -time.Hour, Create: create}).Validate()},
		{"Interval", (&RotateConfig{Template: "f-%H.csv", Interval: MinRotateInterval - time.Millisecond, Create: create}).Validate()},
		{"Template", (&RotateConfig{Template: "f-%q.csv", Interval: time.Hour, Create: create}).Validate()},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), " "+tc.field) {
			t.Errorf("bad %s: error %v, want one naming the field", tc.field, tc.err)
		}
	}
	for _, err := range []error{
		(&FileConfig{}).Validate(),
		(&FileConfig{Format: FormatParquet, Parquet: ParquetConfig{RowGroupRows: MinRowGroupRows, Compression: "none"}}).Validate(),
		(&ParquetConfig{}).Validate(), // 0 rows: the default
		(&RotateConfig{Template: "f-%S.csv", Interval: MinRotateInterval, Create: create}).Validate(),
		(&RotateConfig{Template: "f-%i.csv", Flows: 1, Create: create}).Validate(),
	} {
		if err != nil {
			t.Errorf("a valid config refused: %v", err)
		}
	}
}
