package plugin

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
)

// Python's bytes.decode("utf-8", errors="replace") on these (checked
// with CPython).
func TestDHCPDecodeReplace(t *testing.T) {
	for in, want := range map[string]string{
		"plain":            "plain",
		"ab\xe2\x82c":      "ab\ufffdc",
		"\xff\xfeA":        "\ufffd\ufffdA",
		"\xf0\x9f\x98":     "\ufffd",
		"\xed\xa0\x80x":    "\ufffd\ufffd\ufffdx",
		"\xe0\x80\x80":     "\ufffd\ufffd\ufffd",
		"\xf4\x90\x80\x80": "\ufffd\ufffd\ufffd\ufffd",
		"ok\xc3":           "ok\ufffd",
		"h\xc3\xa9llo\x00": "h\u00e9llo\x00",
	} {
		if got := pyDecodeReplace([]byte(in)); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
	// str(ipaddress.ip_address(int.from_bytes(b, "big"))).
	for in, want := range map[string]any{
		"\xc0\xa8\x00\x0a":     "192.168.0.10",
		"\x0a\x00":             "0.0.10.0",
		"":                     "0.0.0.0",
		"\x01\x02\x03\x04\x05": "::1:203:405",
	} {
		if got := ipFromInt([]byte(in)); got != want {
			t.Errorf("ip %q: got %v, want %v", in, got, want)
		}
	}
}

// dhcpPacket builds an IPv4/UDP packet 0.0.0.0:68 -> 255.255.255.255:67
// carrying a BOOTP message with ciaddr, chaddr, the file field and the
// options (magic cookie included).
func dhcpPacket(ciaddr [4]byte, chaddr []byte, file []byte, opts []byte) []byte {
	msg := make([]byte, 240, 240+len(opts))
	msg[0], msg[1], msg[2] = 1, 1, byte(len(chaddr))
	copy(msg[12:16], ciaddr[:])
	copy(msg[28:44], chaddr)
	copy(msg[108:236], file)
	binary.BigEndian.PutUint32(msg[236:240], 0x63825363)
	msg = append(msg, opts...)
	udp := make([]byte, 8, 8+len(msg))
	binary.BigEndian.PutUint16(udp[0:], 68)
	binary.BigEndian.PutUint16(udp[2:], 67)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(msg)))
	udp = append(udp, msg...)
	ip := make([]byte, 20, 20+len(udp))
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
	copy(ip[16:20], []byte{255, 255, 255, 255})
	return append(ip, udp...)
}

func runDHCP(t *testing.T, src [4]byte, pkts ...[]byte) (*features.UDPS, []int8) {
	t.Helper()
	fl := &features.Flow{IPVersion: 4, Protocol: 17, SrcPort: 68, DstPort: 67}
	copy(fl.SrcIP[:], src[:])
	v := NewView(features.Config{}, nil)
	u := &features.UDPS{}
	d := &dhcp{}
	var exp []int8
	for i, b := range pkts {
		p := &Packet{P: &decode.Packet{IPVersion: 4, Protocol: 17, IPContent: b}, F: fl}
		f := v.Live(fl, nil, u)
		var err error
		if i == 0 {
			err = d.OnInit(p, f)
		} else {
			err = d.OnUpdate(p, f)
		}
		if err != nil {
			t.Fatal(err)
		}
		exp = append(exp, f.expiration)
	}
	return u, exp
}

func TestDHCPRequest(t *testing.T) {
	mac := []byte{0x00, 0x0b, 0x82, 0x01, 0xfc, 0x42}
	// DISCOVER (hostname not UTF-8, pads), then REQUEST (ciaddr set,
	// option overload: the options in the file field are not read),
	// then ACK.
	discover := dhcpPacket([4]byte{}, mac, nil, []byte{53, 1, 1, 0, 0, 12, 3, 'a', 0xff, 'b', 57, 2, 0x05, 0xdc, 255})
	request := dhcpPacket([4]byte{10, 0, 0, 5}, mac, []byte{60, 3, 'x', 'y', 'z', 255},
		[]byte{53, 1, 3, 0, 50, 4, 192, 168, 0, 10, 55, 4, 1, 3, 6, 42, 52, 1, 1, 60, 4, 'M', 'S', 'F', 'T', 255, 77, 1, 'u'})
	ack := dhcpPacket([4]byte{}, mac, nil, []byte{53, 1, 5, 255})
	u, exp := runDHCP(t, [4]byte{10, 0, 0, 5}, discover, request, ack)
	wantNames := []string{"dhcp_12", "dhcp_50", "dhcp_55", "dhcp_57", "dhcp_60", "dhcp_77", "dhcp_options",
		"dhcp_addr", "dhcp_msg_type", "dhcp_oui"}
	wantValues := []any{"a\ufffdb", "192.168.0.10", "1,3,6,42", int64(1500), "MSFT", nil,
		[]any{int64(53), int64(50), int64(55), int64(52), int64(60)}, "10.0.0.5", "MsgType.DISCOVER", "00:0b:82"}
	if !reflect.DeepEqual(u.Names, wantNames) || !reflect.DeepEqual(u.Values, wantValues) {
		t.Errorf("got %q %#v\nwant %q %#v", u.Names, u.Values, wantNames, wantValues)
	}
	if !reflect.DeepEqual(exp, []int8{0, 0, -1}) {
		t.Errorf("expiration %v, want [0 0 -1]", exp)
	}

	// From 0.0.0.0 every parsed message expires the flow; no option 53
	// gives msg_type 0; a packet that is not DHCP is skipped.
	noType := dhcpPacket([4]byte{}, mac, nil, []byte{12, 1, 'h', 255})
	bad := append([]byte(nil), noType...)
	binary.BigEndian.PutUint32(bad[28+236:], 0)
	u, exp = runDHCP(t, [4]byte{}, bad)
	if v, _ := u.Get("dhcp_msg_type"); v != nil || exp[0] != 0 {
		t.Errorf("not DHCP: msg_type %v expiration %d", v, exp[0])
	}
	u, exp = runDHCP(t, [4]byte{}, noType)
	if v, _ := u.Get("dhcp_msg_type"); v != int64(0) || exp[0] != -1 {
		t.Errorf("no option 53: msg_type %#v expiration %d", v, exp[0])
	}
}
