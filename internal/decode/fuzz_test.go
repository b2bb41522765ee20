package decode

import (
	"path/filepath"
	"reflect"
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
	testdataRecords(func(link capture.LinkType, data []byte) {
		f.Add(uint32(link), true, data)
	})
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

// FuzzFastPath checks Decode's shortcut for untagged Ethernet IPv4 against
// the general path it stands for: on every record both give the same
// verdict and, for a metered packet, the same fields. Seeds are Ethernet
// IPv4 frames of every kind the shortcut must take or leave to the general
// path (fragments, options, IP-in-IP, tunnel ports, short captures).
func FuzzFastPath(f *testing.F) {
	for _, s := range []string{vlanSYN, gtpICMP} {
		f.Add(true, frameHex(f, s))
	}
	testdataRecords(func(link capture.LinkType, data []byte) {
		if link == capture.LinkEthernet {
			f.Add(true, data)
			f.Add(false, data)
		}
	})
	f.Fuzz(func(t *testing.T, tunnels bool, data []byte) {
		d := Decoder{Options{DecodeTunnels: tunnels}}
		for _, wireLen := range []uint32{uint32(len(data)), uint32(len(data)) + 100} {
			var fast, general Packet
			okFast := d.Decode(capture.LinkEthernet, data, wireLen, &fast)
			okGeneral := d.decode(capture.LinkEthernet, data, wireLen, &general)
			if okFast != okGeneral {
				t.Fatalf("Decode says %v, the general path %v", okFast, okGeneral)
			}
			if !okFast {
				continue
			}
			a, b := fast.IPContent, general.IPContent
			if len(a) != len(b) || len(a) > 0 && &a[0] != &b[0] {
				t.Fatalf("IP content differs: %d bytes vs %d", len(fast.IPContent), len(general.IPContent))
			}
			fast.IPContent, general.IPContent = nil, nil
			if !reflect.DeepEqual(fast, general) {
				t.Fatalf("Decode gives\n%+v\nthe general path\n%+v", fast, general)
			}
		}
	})
}

// testdataRecords hands each of the first 64 records of every capture in
// testdata/ to add, as a copy.
func testdataRecords(add func(link capture.LinkType, data []byte)) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "*.pcap*"))
	for _, name := range files {
		src, err := capture.Open(name)
		if err != nil {
			continue
		}
		var pkt capture.Packet
		for n := 0; n < 64 && src.Next(&pkt) == nil; n++ {
			add(pkt.LinkType, append([]byte(nil), pkt.Data...))
		}
		src.Close()
	}
}
