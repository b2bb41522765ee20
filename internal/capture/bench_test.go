package capture

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// loopReader serves a capture header once and then its records over and
// over, so a benchmark can read b.N packets without reopening anything.
type loopReader struct {
	head, body []byte
	pos        int
	inBody     bool
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		src := r.head
		if r.inBody {
			src = r.body
		}
		k := copy(p[n:], src[r.pos:])
		n += k
		r.pos += k
		if r.pos == len(src) {
			r.pos, r.inBody = 0, true
		}
	}
	return n, nil
}

// benchFrames are frames of typical sizes: ACKs, mid-size, full MTU.
func benchFrames() [][]byte {
	var frames [][]byte
	for _, n := range []int{60, 60, 590, 1514, 66, 1514, 1200, 74} {
		f := make([]byte, n)
		for i := range f {
			f[i] = byte(i)
		}
		frames = append(frames, f)
	}
	return frames
}

func benchPackets(b *testing.B, head, body []byte) {
	src, err := NewReader(&loopReader{head: head, body: body}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	var p Packet
	var bytes int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := src.Next(&p); err != nil {
			b.Fatal(err)
		}
		bytes += int64(p.CapLen)
	}
	b.SetBytes(bytes / int64(max(b.N, 1)))
}

// BenchmarkReadPcap reads one packet per op from a generated microsecond
// pcap; 0 allocs/op shows the packet path allocates nothing.
func BenchmarkReadPcap(b *testing.B) {
	var recs []pcapRec
	for i, f := range benchFrames() {
		recs = append(recs, rec(1600000000+uint32(i), uint32(i), f))
	}
	file := pcapFile(stdPcap(), recs...)
	benchPackets(b, file[:24], file[24:])
}

// BenchmarkReadPcapng does the same with Enhanced Packet Blocks.
func BenchmarkReadPcapng(b *testing.B) {
	w := newNG(le)
	w.idb(1, 0, w.tsresol(9))
	head := len(w.bytes())
	for i, f := range benchFrames() {
		w.packet(0, 1600000000_000000000+uint64(i)*1000, f)
	}
	benchPackets(b, w.bytes()[:head], w.bytes()[head:])
}

// BenchmarkOpenFile reads a whole generated 100,000-packet file from disk
// through Open per op, the way the CLI reads a capture.
func BenchmarkOpenFile(b *testing.B) {
	var recs []pcapRec
	frames := benchFrames()
	for i := range 100000 {
		recs = append(recs, rec(1600000000+uint32(i/1000), uint32(i%1000)*1000, frames[i%len(frames)]))
	}
	path := filepath.Join(b.TempDir(), "bench.pcap")
	if err := os.WriteFile(path, pcapFile(stdPcap(), recs...), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if n, _ := readFile(b, path); n != len(recs) {
			b.Fatalf("%d packets; want %d", n, len(recs))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/packet")
}

// readFile reads the file at path through Open to its end, returning the
// records and their captured bytes.
func readFile(b *testing.B, path string) (packets int, bytes int64) {
	src, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	return drain(b, src)
}

// drain reads src to its end, failing on any error but io.EOF, and
// returns the records and their captured bytes.
func drain(tb testing.TB, src Source) (packets int, bytes int64) {
	tb.Helper()
	var p Packet
	for {
		err := src.Next(&p)
		if err == io.EOF {
			return packets, bytes
		}
		if err != nil {
			tb.Fatal(err)
		}
		packets++
		bytes += int64(p.CapLen)
	}
}

// BenchmarkReadRealistic reads the realistic capture (see
// corpus.Realistic), one whole file per op, with no decoding: the cost of
// the reader alone (in-place reading, docs/design.md). The baseline of the
// pipeline's rates, reading and decoding, is the pipeline's
// BenchmarkRealisticRead, which scripts/bench-realistic runs.
func BenchmarkReadRealistic(b *testing.B) {
	path := corpus.Realistic(b)
	var packets, bytes int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		n, nb := readFile(b, path)
		packets, bytes = packets+int64(n), bytes+nb
	}
	b.SetBytes(bytes / int64(b.N))
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "pkts/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(packets), "ns/packet")
}
