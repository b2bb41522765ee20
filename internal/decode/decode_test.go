package decode

import (
	"testing"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/testing/testgen"
)

// frameHex turns a tcpdump -xx style dump into bytes.
func frameHex(t testing.TB, dump string) []byte { return testgen.HexDump(t, dump) }

// 10:00:00.000000 02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype 802.1Q (0x8100),
// vlan 100, p 0, ethertype 802.1Q, vlan 200, p 0, ethertype IPv4 (0x0800),
// 10.0.0.1.40000 > 10.0.0.2.443: Flags [S], seq 1, win 64240, length 0
const vlanSYN = `
0x0000:  0200 0000 0002 0200 0000 0001 8100 0064
0x0010:  8100 00c8 0800 4500 0028 0001 0000 4006
0x0020:  0000 0a00 0001 0a00 0002 9c40 01bb 0000
0x0030:  0001 0000 0000 5002 faf0 0000 0000`

func TestDecodeDoubleVLAN(t *testing.T) {
	data := frameHex(t, vlanSYN)
	var p Packet
	d := Decoder{Options{DecodeTunnels: true}}
	if !d.Decode(capture.LinkEthernet, data, uint32(len(data)), &p) {
		t.Fatal("ignored")
	}
	if p.VlanID != 200 {
		t.Errorf("vlan %d, want 200 (the last tag wins)", p.VlanID)
	}
	if p.SrcPort != 40000 || p.DstPort != 443 || p.Protocol != 6 || p.IPVersion != 4 {
		t.Errorf("ports %d>%d proto %d v%d", p.SrcPort, p.DstPort, p.Protocol, p.IPVersion)
	}
	if p.Flags != FlagSYN {
		t.Errorf("flags %#x, want SYN", p.Flags)
	}
	if p.RawSize != 62 || p.IPSize != 40 || p.TransportSize != 20 || p.PayloadSize != 0 {
		t.Errorf("sizes %d/%d/%d/%d, want 62/40/20/0", p.RawSize, p.IPSize, p.TransportSize, p.PayloadSize)
	}
	if p.SrcMAC != [6]byte{2, 0, 0, 0, 0, 1} || p.DstMAC != [6]byte{2, 0, 0, 0, 0, 2} {
		t.Errorf("macs %x %x", p.SrcMAC, p.DstMAC)
	}
	if p.SrcIP != [16]byte{10, 0, 0, 1} || p.DstIP != [16]byte{10, 0, 0, 2} {
		t.Errorf("addresses %v %v", p.SrcIP, p.DstIP)
	}
	if len(p.IPContent) != 40 || p.IPContent[0] != 0x45 {
		t.Errorf("IP content %x", p.IPContent)
	}
}

// IPv6 UDP with a hop-by-hop header, then a second frame that is a
// non-first fragment (ignored, as nDPI's extension-header walk drops it).
// 2001:db8::1.5353 > 2001:db8::2.53: UDP, length 4
const ipv6HopByHop = `
0x0000:  0200 0000 0002 0200 0000 0001 86dd 6000
0x0010:  0000 0014 0040 2001 0db8 0000 0000 0000
0x0020:  0000 0000 0001 2001 0db8 0000 0000 0000
0x0030:  0000 0000 0002 1100 0000 0000 0000 14e9
0x0040:  0035 000c 0000 6162 6364`

const ipv6LaterFragment = `
0x0000:  0200 0000 0002 0200 0000 0001 86dd 6000
0x0010:  0000 0014 2c40 2001 0db8 0000 0000 0000
0x0020:  0000 0000 0001 2001 0db8 0000 0000 0000
0x0030:  0000 0000 0002 1100 0010 0000 0001 14e9
0x0040:  0035 000c 0000 6162 6364`

func TestDecodeIPv6ExtensionHeaders(t *testing.T) {
	var d Decoder
	var p Packet
	data := frameHex(t, ipv6HopByHop)
	if !d.Decode(capture.LinkEthernet, data, uint32(len(data)), &p) {
		t.Fatal("ignored")
	}
	if p.IPVersion != 6 || p.Protocol != 17 || p.SrcPort != 5353 || p.DstPort != 53 {
		t.Errorf("v%d proto %d ports %d>%d", p.IPVersion, p.Protocol, p.SrcPort, p.DstPort)
	}
	// NFStream's IPv6 ip_size is the payload length; transport excludes
	// the extension header.
	if p.IPSize != 20 || p.TransportSize != 12 || p.PayloadSize != 4 {
		t.Errorf("sizes ip %d transport %d payload %d, want 20/12/4", p.IPSize, p.TransportSize, p.PayloadSize)
	}
	data = frameHex(t, ipv6LaterFragment)
	if d.Decode(capture.LinkEthernet, data, uint32(len(data)), &p) {
		t.Error("a non-first IPv6 fragment was decoded; NFStream ignores it")
	}
}

// GTP-U (UDP 2152) carrying IPv4 ICMP, with the sequence flag set.
const gtpICMP = `
0x0000:  0200 0000 0002 0200 0000 0001 0800 4500
0x0010:  0044 0000 0000 4011 0000 c0a8 0001 c0a8
0x0020:  0002 0868 0868 0030 0000 32ff 0020 0000
0x0030:  0001 0001 0000 4500 001c 0000 0000 4001
0x0040:  0000 0a01 0101 0a01 0102 0800 0000 0001
0x0050:  0001`

func TestDecodeGTP(t *testing.T) {
	data := frameHex(t, gtpICMP)
	var p Packet
	on := Decoder{Options{DecodeTunnels: true}}
	if !on.Decode(capture.LinkEthernet, data, uint32(len(data)), &p) {
		t.Fatal("ignored")
	}
	if p.TunnelID != TunnelGTP || p.Protocol != 1 || p.SrcIP != [16]byte{10, 1, 1, 1} {
		t.Errorf("tunnel %d proto %d src %v, want GTP, ICMP from 10.1.1.1", p.TunnelID, p.Protocol, p.SrcIP)
	}
	if p.IPSize != 28 || p.RawSize != uint16(len(data)) {
		t.Errorf("ip size %d raw %d", p.IPSize, p.RawSize)
	}
	var off Decoder
	if !off.Decode(capture.LinkEthernet, data, uint32(len(data)), &p) {
		t.Fatal("ignored without tunnel decoding")
	}
	if p.TunnelID != 0 || p.Protocol != 17 || p.SrcPort != 2152 {
		t.Errorf("without tunnel decoding: tunnel %d proto %d port %d, want the outer UDP", p.TunnelID, p.Protocol, p.SrcPort)
	}
}

func TestDecodeIgnores(t *testing.T) {
	var d Decoder
	var p Packet
	arp := frameHex(t, `ffff ffff ffff 0200 0000 0001 0806 0001 0800 0604 0001 0200 0000 0001 0a00 0001 0000 0000 0000 0a00 0002`)
	if d.Decode(capture.LinkEthernet, arp, uint32(len(arp)), &p) {
		t.Error("ARP decoded")
	}
	if d.Decode(capture.LinkEthernet, arp[:20], 20, &p) {
		t.Error("runt frame decoded")
	}
	if d.Decode(capture.LinkType(9999), make([]byte, 100), 100, &p) {
		t.Error("unknown link type decoded")
	}
}
