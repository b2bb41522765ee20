package plugin

import (
	"slices"
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
)

// beginSink records the columns it is begun with.
type beginSink struct{ names []string }

func (s *beginSink) Begin(cols []features.Column) error {
	for _, c := range cols {
		s.names = append(s.names, c.Name)
	}
	return nil
}
func (s *beginSink) Write(*features.Record) error { return nil }
func (s *beginSink) Close() error                 { return nil }

// The udps columns come after the core columns and before the system
// visibility ones, which are last, as in NFStream.
func TestColumnSinkOrder(t *testing.T) {
	cols := features.Schema{System: features.SystemBasic}.Columns()
	var inner beginSink
	cs := NewColumnSink(&inner)
	if err := cs.Begin(cols); err != nil {
		t.Fatal(err)
	}
	u := &features.UDPS{}
	u.Set("label", int64(1), "test")
	if err := cs.Write(&features.Record{UDPS: u}); err != nil {
		t.Fatal(err)
	}
	n := len(inner.names)
	want := []string{"udps.label", "system_process_pid", "system_process_name"}
	if n < 3 || !slices.Equal(inner.names[n-3:], want) {
		t.Errorf("last columns %v, want %v", inner.names[max(n-3, 0):], want)
	}
	if n != len(cols)+1 {
		t.Errorf("%d columns, want %d", n, len(cols)+1)
	}
}
