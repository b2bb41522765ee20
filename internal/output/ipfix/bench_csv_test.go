package ipfix

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
)

// benchCSV writes n records as CSV to a file and returns flows per second.
func benchCSV(b *testing.B, recs []*features.Record, n int) float64 {
	fc := output.FileConfig{Format: output.FormatCSV}
	start := time.Now()
	s, err := fc.Create(filepath.Join(b.TempDir(), "flows.csv"))
	if err != nil {
		b.Fatal(err)
	}
	s.Begin(allColumns)
	for j := 0; j < n; j++ {
		r := recs[j%len(recs)]
		r.ID = uint64(j)
		if err := s.Write(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	rate := float64(n) / time.Since(start).Seconds()
	os.Remove(filepath.Join(b.TempDir(), "flows.csv"))
	return rate
}
