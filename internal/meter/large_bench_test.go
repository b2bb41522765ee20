package meter

import (
	"io"
	"os"
	"testing"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/testing/testgen"
)

// BenchmarkLargeCapture measures the meter alone (--stats --splt 10, no
// dissection, flows flushed at the end) on the benchmarks' large generated
// capture (testgen.LargeConfigFromEnv), decoded into memory beforehand: the
// meter's share of the pipeline's per-packet cost, without the reader's.
func BenchmarkLargeCapture(b *testing.B) {
	path, err := testgen.LargeFile(os.TempDir(), testgen.LargeConfigFromEnv())
	if err != nil {
		b.Fatal(err)
	}
	pkts, times := decodeFile(b, path)
	b.ResetTimer()
	var flows int
	for range b.N {
		flows = 0
		m := mustNew(config(), func(*features.Record) error { flows++; return nil })
		for i := 0; i < len(pkts); i += 1024 { // the pipeline's batches
			j := min(i+1024, len(pkts))
			if err := m.ProcessBatch(pkts[i:j], times[i:j]); err != nil {
				b.Fatal(err)
			}
		}
		if err := m.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(pkts))*float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	b.ReportMetric(float64(flows), "flows")
}

// decodeFile decodes every packet of a capture, with the times in ms.
func decodeFile(b *testing.B, path string) ([]decode.Packet, []uint64) {
	src, err := capture.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	var pkts []decode.Packet
	var times []uint64
	var cp capture.Packet
	dec := decode.Decoder{Options: decode.Options{DecodeTunnels: true}}
	for {
		if err := src.Next(&cp); err == io.EOF {
			return pkts, times
		} else if err != nil {
			b.Fatal(err)
		}
		var p decode.Packet
		if dec.Decode(cp.LinkType, cp.Data, cp.Len, &p) {
			p.IPContent = nil // the record's bytes are reused; no dissection here
			pkts = append(pkts, p)
			times = append(times, cp.TimeMS())
		}
	}
}
