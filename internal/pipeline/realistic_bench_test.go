package pipeline

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/decode"
)

// realisticCapture returns the realistic capture scripts/bench-realistic
// builds (NFSTREAM_BIG, or nfstream-big/big.pcap in the temporary folder),
// skipping the benchmark when it is absent.
func realisticCapture(b *testing.B) string {
	b.Helper()
	path := os.Getenv("NFSTREAM_BIG")
	if path == "" {
		path = filepath.Join(os.TempDir(), "nfstream-big", "big.pcap")
	}
	if _, err := os.Stat(path); err != nil {
		b.Skipf("realistic capture %s absent (scripts/bench-realistic builds it): %v", path, err)
	}
	return path
}

// BenchmarkRealisticRead is the bare read loop of scripts/bench-realistic:
// the reader and the decoder of a file run, with no meter, on the
// realistic capture. Its packets/s is what the end-to-end rates are
// compared with.
func BenchmarkRealisticRead(b *testing.B) {
	path := realisticCapture(b)
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
