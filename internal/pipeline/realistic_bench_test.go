package pipeline

import (
	"io"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// BenchmarkRealisticRead is the bare read loop of scripts/bench-realistic:
// the reader and the decoder of a file run, with no meter, on the
// realistic capture. Its packets/s is what the end-to-end rates are
// compared with.
func BenchmarkRealisticRead(b *testing.B) {
	path := corpus.Realistic(b)
	var pkts uint64
	start := time.Now()
	for b.Loop() {
		src, err := capture.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		var (
			pkt capture.Packet
			p   decode.Packet
			dec decode.Decoder
		)
		dec.Options = decode.Options{DecodeTunnels: true}
		for {
			err := src.Next(&pkt)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			dec.Decode(pkt.LinkType, pkt.Data, pkt.Len, &p)
			pkts++
		}
		src.Close()
	}
	b.ReportMetric(float64(pkts)/time.Since(start).Seconds(), "pkts/s")
	// How many cores the machine gives now: read the meters' ratios by it.
	b.ReportMetric(parallelism(), "cores")
}
