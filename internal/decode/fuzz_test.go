package decode

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/nfstream-go/nfstream/internal/capture"
)

// FuzzDecode feeds arbitrary records of every link type to the decoder: it
// must never panic, and what it returns must point into the record.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{vlanSYN, ipv6HopByHop, ipv6LaterFragment, gtpICMP} {
		f.Add(uint32(capture.LinkEthernet), true, frameHex(f, s))
	}
	// Records of the captures the project generates, one seed per record.
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "*.pcap*"))
	for _, name := range files {
		src, err := capture.Open(name)
		if err != nil {
			continue
		}
		var pkt capture.Packet
		for n := 0; n < 64; n++ {
			if err := src.Next(&pkt); err == io.EOF || err != nil {
				break
			}
			f.Add(uint32(pkt.LinkType), true, append([]byte(nil), pkt.Data...))
		}
		src.Close()
	}
	f.Fuzz(func(t *testing.T, link uint32, tunnels bool, data []byte) {
		d := Decoder{Options{DecodeTunnels: tunnels}}
		var p Packet
		for _, lt := range []capture.LinkType{capture.LinkType(link), capture.LinkEthernet, capture.LinkLinuxSLL2, capture.LinkRadiotap} {
			if !d.Decode(lt, data, uint32(len(data)), &p) {
				continue
			}
			if len(p.IPContent) > len(data) {
				t.Fatalf("IP content of %d bytes from a %d-byte record", len(p.IPContent), len(data))
			}
			if p.IPVersion != 4 && p.IPVersion != 6 {
				t.Fatalf("ip version %d", p.IPVersion)
			}
		}
	})
}
