package plugin

import (
	"reflect"
	"testing"

	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
)

func TestParseArgs(t *testing.T) {
	args, err := ParseArgs("limit=4,ratio=0.5,name=x,neg=-2")
	if err != nil {
		t.Fatal(err)
	}
	want := []Arg{{"limit", int64(4)}, {"ratio", 0.5}, {"name", "x"}, {"neg", int64(-2)}}
	if !reflect.DeepEqual(args, want) {
		t.Fatalf("%v, want %v", args, want)
	}
	for _, bad := range []string{"x", "=1", "a=1,a=2", "1a=2"} {
		if _, err := ParseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestPacketView checks NFPacket's fields: endpoint strings from the flow,
// swapped for a dst-to-src packet, ports from the packet, flags as 0/1.
func TestPacketView(t *testing.T) {
	fwd := decode.Packet{IPVersion: 4, Protocol: 6, SrcPort: 1234, DstPort: 80, RawSize: 60, IPSize: 46, TransportSize: 26, PayloadSize: 6,
		Flags: decode.FlagSYN | decode.FlagACK, IPContent: []byte{0x45, 0, 0, 46}}
	copy(fwd.SrcIP[:], []byte{10, 0, 0, 1})
	copy(fwd.DstIP[:], []byte{10, 0, 0, 2})
	fwd.SrcMAC = [6]byte{2, 0, 0, 0, 0, 1}
	fwd.DstMAC = [6]byte{2, 0, 0, 0, 0, 2}
	var cfg features.Config
	var f features.Flow
	cfg.Init(&f, nil, &fwd, 1000)
	rev := fwd
	rev.SrcIP, rev.DstIP, rev.SrcPort, rev.DstPort, rev.Flags = fwd.DstIP, fwd.SrcIP, 80, 1234, decode.FlagFIN
	cfg.Update(&f, nil, &rev, 1007)
	p := Packet{P: &rev, F: &f, TimeMS: 1007, DeltaMS: 7, Direction: f.Direction(&rev)}
	want := map[string]any{
		"time": int64(1007), "delta_time": int64(7), "direction": int64(1), "raw_size": int64(60), "ip_size": int64(46),
		"transport_size": int64(26), "payload_size": int64(6), "src_ip": "10.0.0.2", "dst_ip": "10.0.0.1",
		"src_mac": "02:00:00:00:00:02", "src_oui": "02:00:00", "dst_mac": "02:00:00:00:00:01", "dst_oui": "02:00:00",
		"src_port": int64(80), "dst_port": int64(1234), "protocol": int64(6), "vlan_id": int64(0), "ip_version": int64(4),
		"syn": int64(0), "ack": int64(0), "fin": int64(1), "rst": int64(0), "tunnel_id": int64(0),
		"ip_packet": []byte{0x45, 0, 0, 46},
	}
	for name, w := range want {
		got, ok := p.Attr(name)
		if !ok || !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	for _, name := range PacketFields {
		if _, ok := p.Attr(name); !ok {
			t.Errorf("no field %s", name)
		}
	}
	// The flow view reads columns from the live flow.
	v := NewView(cfg, features.Schema{Tunnel: true}.Columns())
	fv := v.Live(&f, nil, &features.UDPS{})
	if got, _ := fv.Attr("bidirectional_packets"); got != int64(2) {
		t.Errorf("bidirectional_packets %v", got)
	}
	if got, _ := fv.Attr("src_ip"); got != "10.0.0.1" {
		t.Errorf("src_ip %v", got)
	}
	if got, _ := fv.Attr("dst2src_bytes"); got != int64(60) {
		t.Errorf("dst2src_bytes %v", got)
	}
	if _, ok := fv.Attr("nope"); ok {
		t.Error("unknown column found")
	}
	fv.SetExpirationID(-1)
	if !fv.CustomExpiry() {
		t.Error("expiration_id -1 not seen")
	}
}

func TestUDPSPop(t *testing.T) {
	var u features.UDPS
	u.Set("a", int64(1), "p")
	u.Set("b", int64(2), "p")
	u.Set("c", int64(3), "p")
	u.Set("a", int64(4), "p")
	if v, ok := u.Pop("b"); !ok || v != int64(2) {
		t.Fatal(v, ok)
	}
	if !reflect.DeepEqual(u.Names, []string{"a", "c"}) || !reflect.DeepEqual(u.Values, []any{int64(4), int64(3)}) {
		t.Fatal(u)
	}
}
