package plugin

import (
	"net"
	"reflect"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
)

// mdnsPacket builds an IPv4/UDP packet 10.0.0.1:5353 -> 224.0.0.251:5353
// carrying an mDNS response with the answers and additional records.
func mdnsPacket(t *testing.T, an, ar []layers.DNSResourceRecord) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 255, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(224, 0, 0, 251)}
	udp := &layers.UDP{SrcPort: 5353, DstPort: 5353}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	dns := &layers.DNS{QR: true, AA: true, Answers: an, Additionals: ar}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip, udp, dns); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ptrRR(name, target string) layers.DNSResourceRecord {
	return layers.DNSResourceRecord{Name: []byte(name), Type: layers.DNSTypePTR, Class: layers.DNSClassIN,
		TTL: 4500, PTR: []byte(target)}
}

func runMDNS(t *testing.T, dstPort uint16, pkts ...*decode.Packet) []any {
	t.Helper()
	fl := &features.Flow{IPVersion: 4, Protocol: 17, SrcPort: 5353, DstPort: dstPort}
	v := NewView(features.Config{}, nil)
	u := &features.UDPS{}
	m := &mdns{}
	for i, dp := range pkts {
		p := &Packet{P: dp, F: fl}
		f := v.Live(fl, nil, u)
		var err error
		if i == 0 {
			err = m.OnInit(p, f)
		} else {
			err = m.OnUpdate(p, f)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(u.Names, []string{"mdns_ptr"}) {
		t.Fatalf("columns %q, want [mdns_ptr]", u.Names)
	}
	return u.Values[0].([]any)
}

func TestMDNS(t *testing.T) {
	v4 := func(b []byte) *decode.Packet { return &decode.Packet{IPVersion: 4, Protocol: 17, IPContent: b} }
	a := layers.DNSResourceRecord{Name: []byte("host.local"), Type: layers.DNSTypeA, Class: layers.DNSClassIN,
		TTL: 120, IP: net.IPv4(10, 0, 0, 1).To4()}
	// A TXT record (2 bytes of data) made NSEC (type 47) once serialized.
	txt := layers.DNSResourceRecord{Name: []byte("host.local"), Type: layers.DNSTypeTXT, Class: layers.DNSClassIN,
		TTL: 120, TXTs: [][]byte{[]byte("x")}}
	first := mdnsPacket(t, []layers.DNSResourceRecord{
		ptrRR("_services._dns-sd._udp.local", "_x,y._tcp.local"),
		a,
		ptrRR("_x._tcp.local", "Luca’s iMac._x._tcp.local"),
		ptrRR("_services._dns-sd._udp.local", "_x,y._tcp.local"),
	}, nil)
	// An NSEC record anywhere: dpkt rejects the whole message.
	withTXT := mdnsPacket(t, []layers.DNSResourceRecord{ptrRR("_y._tcp.local", "t._y._tcp.local")},
		[]layers.DNSResourceRecord{txt})
	withNSEC := mdnsPacket(t, []layers.DNSResourceRecord{ptrRR("_y._tcp.local", "skipped._y._tcp.local")},
		[]layers.DNSResourceRecord{txt})
	withNSEC[len(withNSEC)-12], withNSEC[len(withNSEC)-11] = 0, 47
	// PTR records in the additional section are not read.
	additional := mdnsPacket(t, []layers.DNSResourceRecord{ptrRR("_z._tcp.local", "z._z._tcp.local")},
		[]layers.DNSResourceRecord{ptrRR("_w._tcp.local", "w._w._tcp.local")})
	again := mdnsPacket(t, []layers.DNSResourceRecord{ptrRR("_x._tcp.local", "Luca’s iMac._x._tcp.local")}, nil)
	// IPv6 packets are not read (dpkt's IPv4 decoder rejects them).
	v6 := &decode.Packet{IPVersion: 6, Protocol: 17, IPContent: first}

	got := runMDNS(t, 5353, v4(first), v4(withNSEC), v4(withTXT), v4(additional), v4(again), v6)
	want := []any{"_x y._tcp.local", "Luca’s iMac._x._tcp.local", "t._y._tcp.local", "z._z._tcp.local"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := runMDNS(t, 5353, v6); len(got) != 0 {
		t.Errorf("IPv6: got %q, want []", got)
	}
	if got := runMDNS(t, 53, v4(first)); len(got) != 0 {
		t.Errorf("dst_port 53: got %q, want []", got)
	}
	if got := runMDNS(t, 5353, v4(first[:30])); len(got) != 0 {
		t.Errorf("truncated: got %q, want []", got)
	}
}
