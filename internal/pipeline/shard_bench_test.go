package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/features"
)

// BenchmarkShard measures, in the same run on the large generated
// capture (--stats --splt 10, nDPI off, counting sink), one unsharded run
// and the four runs of --shard i/4, and reports the mean shard's time
// over the unsharded run's (shard-ratio: 0.25 would mean a shard costs
// nothing for the flows it drops; every shard still reads and decodes the
// whole capture) and the four shards' summed time over it
// (shards-sum-ratio). The shards' flows add up to the unsharded run's.
func BenchmarkShard(b *testing.B) {
	path, _ := largeCapture(b)
	schema := features.Schema{Tunnel: true, Stats: true, SPLT: true}
	const n = 4
	var whole, shards time.Duration
	for i := 0; i < b.N; i++ {
		run := func(s Shard) uint64 {
			cfg := nfstreamDefaults([]string{path}, features.AccountLink, true, 10)
			cfg.Shard = s
			start := time.Now()
			st, err := Run(context.Background(), cfg, &countSink{}, schema.Columns())
			d := time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			if s.Count > 1 {
				shards += d
			} else {
				whole += d
			}
			return st.Flows
		}
		all := run(Shard{})
		var sum uint64
		for k := range n {
			sum += run(Shard{Index: k, Count: n})
		}
		if sum != all {
			b.Fatalf("the shards wrote %d flows, the unsharded run %d", sum, all)
		}
	}
	b.ReportMetric(shards.Seconds()/n/whole.Seconds(), "shard-ratio")
	b.ReportMetric(shards.Seconds()/whole.Seconds(), "shards-sum-ratio")
	b.ReportMetric(0, "ns/op")
}
