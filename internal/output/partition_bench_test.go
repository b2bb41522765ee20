package output_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/output"
)

// BenchmarkPartitioned writes the generated records (200k distinct flows,
// their first-seen times spread over 24 hours in order) once to one
// Parquet file and once partitioned by date, hour and protocol (about 50
// partitions, the default bound of 32 open files), in the same run, and
// reports both rates and the partitioned one's ratio to the flat one.
func BenchmarkPartitioned(b *testing.B) {
	recs := largeRecords(b)
	for i := range recs {
		recs[i].Bidirectional.FirstSeenMS += uint64(i*24/len(recs)) * uint64(time.Hour/time.Millisecond)
	}
	cols := benchSchema.Columns()
	fc := output.FileConfig{Format: output.FormatParquet, NoReplace: true}
	write := func(sink output.Sink) time.Duration {
		start := time.Now()
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
		return time.Since(start)
	}
	var flat, part time.Duration
	var files int
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		sink, err := fc.Create(filepath.Join(dir, "flows.parquet"))
		if err != nil {
			b.Fatal(err)
		}
		flat += write(sink)
		p := output.NewPartitioned(output.PartitionConfig{Dir: filepath.Join(dir, "tree"), Create: fc.Create,
			By: []output.PartitionKey{output.PartitionDate, output.PartitionHour, output.PartitionProtocol}})
		part += write(p)
		files = len(p.Files())
		os.RemoveAll(dir)
	}
	n := float64(len(recs)) * float64(b.N)
	b.ReportMetric(n/flat.Seconds(), "flat-flows/s")
	b.ReportMetric(n/part.Seconds(), "partitioned-flows/s")
	b.ReportMetric(flat.Seconds()/part.Seconds(), "partitioned-ratio")
	b.ReportMetric(float64(files), "files")
	b.ReportMetric(0, "ns/op")
}
