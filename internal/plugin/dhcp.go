package plugin

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// dhcp is NFStream's DHCP plugin. Every flow gets the columns
// udps.dhcp_12, dhcp_50, dhcp_55, dhcp_57, dhcp_60, dhcp_77 (None),
// dhcp_options ([]), dhcp_addr, dhcp_msg_type and dhcp_oui (None), in
// that order. In a flow whose dst_port is 67 every packet whose transport
// payload decodes as a DHCP message (gopacket's DHCPv4) is read:
//
//   - options 12 (hostname, UTF-8 with replacement, when not empty), 57
//     (max message size, an int), 60 (vendor class) and 77 (user class)
//     from any message;
//   - from a REQUEST: dhcp_oui (first 3 bytes of chaddr, xx:xx:xx),
//     dhcp_options (the option codes in message order, Pad and End left
//     out), dhcp_55 (parameter request list, comma-joined decimal, or
//     None), dhcp_50 (requested IP or None) and dhcp_addr (ciaddr, when
//     not 0.0.0.0);
//   - dhcp_msg_type keeps the first type seen: "MsgType.DISCOVER" ...
//     "MsgType.INFORM" (NFStream's enum, NACK for 6), or 0 when option 53
//     is absent.
//
// The flow expires (expiration_id -1) on ACK, NACK, INFORM or DECLINE,
// and after each parsed message when its src_ip is 0.0.0.0.
//
// NFStream parses with dpkt, which differs from gopacket only on messages
// NFStream would fail on or that no client sends: dpkt does not check
// the magic cookie nor an option's length (a cut option keeps the bytes
// there are), where gopacket rejects the message; gopacket also reads
// options the Option Overload option puts in the file and sname fields,
// which are left out here as dpkt does not read them. Where NFStream's
// plugin raises (an unknown message type, option 60 or 77 not UTF-8, a
// chaddr shorter than 6 bytes in a REQUEST) this one keeps going: the
// type is written as its number, the text with replacement characters,
// the OUI from the bytes there are.
type dhcp struct {
	ip   layers.IPv4
	udp  layers.UDP
	tcp  layers.TCP
	msg  layers.DHCPv4
	opts []any
}

func newDHCP(args map[string]any) (func() (Plugin, error), error) {
	if err := noMoreArgs(args); err != nil {
		return nil, err
	}
	return func() (Plugin, error) { return &dhcp{}, nil }, nil
}

const dhcpSetter = "dhcp"

// dhcpMsgTypes are NFStream's MsgType names, by value.
var dhcpMsgTypes = [...]string{1: "MsgType.DISCOVER", 2: "MsgType.OFFER", 3: "MsgType.REQUEST",
	4: "MsgType.DECLINE", 5: "MsgType.ACK", 6: "MsgType.NACK", 7: "MsgType.RELEASE", 8: "MsgType.INFORM"}

func (d *dhcp) OnInit(p *Packet, f *Flow) error {
	for _, n := range [...]string{"dhcp_12", "dhcp_50", "dhcp_55", "dhcp_57", "dhcp_60", "dhcp_77"} {
		f.UDPS.Set(n, nil, dhcpSetter)
	}
	f.UDPS.Set("dhcp_options", []any{}, dhcpSetter)
	for _, n := range [...]string{"dhcp_addr", "dhcp_msg_type", "dhcp_oui"} {
		f.UDPS.Set(n, nil, dhcpSetter)
	}
	return d.OnUpdate(p, f)
}

// payload returns the transport payload of the IPv4 packet b, as dpkt
// gives it (the IP total length bounds it, the UDP length does not).
func (d *dhcp) payload(b []byte) ([]byte, bool) {
	if d.ip.DecodeFromBytes(b, gopacket.NilDecodeFeedback) != nil {
		return nil, false
	}
	if d.ip.Flags&layers.IPv4MoreFragments != 0 || d.ip.FragOffset != 0 {
		// dpkt leaves a fragment undecoded: NFStream's plugin fails on it.
		return nil, false
	}
	switch d.ip.Protocol {
	case layers.IPProtocolUDP:
		if len(d.ip.Payload) < 8 {
			return nil, false
		}
		return d.ip.Payload[8:], true
	case layers.IPProtocolTCP:
		if d.tcp.DecodeFromBytes(d.ip.Payload, gopacket.NilDecodeFeedback) != nil {
			return nil, false
		}
		return d.tcp.Payload, true
	}
	return nil, false
}

func (d *dhcp) OnUpdate(p *Packet, f *Flow) error {
	fl := p.F
	if fl.DstPort != 67 || fl.IPVersion != 4 || p.P.IPVersion != 4 {
		return nil
	}
	b, ok := d.payload(p.P.IPContent)
	if !ok || d.msg.DecodeFromBytes(b, gopacket.NilDecodeFeedback) != nil {
		return nil
	}
	m := &d.msg
	var msgType any = int64(0)
	typ := -1
	opts := d.opts[:0]
	var opt50, opt55 any
	for _, o := range d.mainOptions(b) {
		switch o.Type {
		case layers.DHCPOptHostname:
			if s := pyDecodeReplace(o.Data); s != "" {
				f.UDPS.Set("dhcp_12", s, dhcpSetter)
			}
		case layers.DHCPOptMessageType:
			typ = int(bigEndian(o.Data))
			if typ > 0 && typ < len(dhcpMsgTypes) {
				msgType = dhcpMsgTypes[typ]
			} else {
				msgType = int64(typ)
			}
		case layers.DHCPOptClassID:
			f.UDPS.Set("dhcp_60", pyDecodeReplace(o.Data), dhcpSetter)
		case 77: // user class
			f.UDPS.Set("dhcp_77", pyDecodeReplace(o.Data), dhcpSetter)
		case layers.DHCPOptMaxMessageSize:
			f.UDPS.Set("dhcp_57", int64(bigEndian(o.Data)), dhcpSetter)
		case layers.DHCPOptParamsRequest:
			var sb strings.Builder
			for i, c := range o.Data {
				if i > 0 {
					sb.WriteByte(',')
				}
				sb.WriteString(strconv.Itoa(int(c)))
			}
			opt55 = sb.String()
		case layers.DHCPOptRequestIP:
			opt50 = ipFromInt(o.Data)
		}
		opts = append(opts, int64(o.Type))
	}
	d.opts = opts
	if typ == 3 { // REQUEST
		hw := m.ClientHWAddr
		if len(hw) > 3 {
			hw = hw[:3]
		}
		f.UDPS.Set("dhcp_oui", macString(hw), dhcpSetter)
		f.UDPS.Set("dhcp_options", append([]any(nil), opts...), dhcpSetter)
		f.UDPS.Set("dhcp_55", opt55, dhcpSetter)
		f.UDPS.Set("dhcp_50", opt50, dhcpSetter)
		if ci := m.ClientIP.To4(); ci != nil && !ci.Equal(zeroIPv4[:]) {
			f.UDPS.Set("dhcp_addr", ci.String(), dhcpSetter)
		}
	}
	if typ == 4 || typ == 5 || typ == 6 || typ == 8 || fl.SrcIP == zeroIPv4Key {
		if err := f.SetExpirationID(-1); err != nil {
			return err
		}
	}
	if v, _ := f.UDPS.Get("dhcp_msg_type"); v == nil {
		f.UDPS.Set("dhcp_msg_type", msgType, dhcpSetter)
	}
	return nil
}

func (d *dhcp) OnExpire(*Flow) error { return nil }

var (
	zeroIPv4    = [4]byte{}
	zeroIPv4Key = [16]byte{}
)

// mainOptions returns the options of the message's options field,
// without Pad: the decoder's options up to those it read from the file
// and sname fields (Option Overload), which dpkt does not read. b is the
// message; the options field ends at the End option or at the end of b.
func (d *dhcp) mainOptions(b []byte) []layers.DHCPOption {
	all := d.msg.Options
	out := all[:0:0]
	off := 240
	for _, o := range all {
		if off >= len(b) || b[off] == byte(layers.DHCPOptEnd) {
			break // the rest come from the overloaded fields
		}
		if o.Type == layers.DHCPOptPad {
			off++
			continue
		}
		off += 2 + int(o.Length)
		out = append(out, o)
	}
	return out
}

// bigEndian is Python's int.from_bytes(b, "big") for up to 8 bytes.
func bigEndian(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.BigEndian.Uint64(b[len(b)-8:])
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// ipFromInt is str(ipaddress.ip_address(int.from_bytes(b, "big"))): an
// IPv4 address up to 2^32-1, else IPv6; nil beyond 128 bits.
func ipFromInt(b []byte) any {
	for len(b) > 0 && b[0] == 0 && len(b) > 4 {
		b = b[1:]
	}
	switch {
	case len(b) <= 4:
		var a [4]byte
		copy(a[4-len(b):], b)
		return netip.AddrFrom4(a).String()
	case len(b) <= 16:
		var a [16]byte
		copy(a[16-len(b):], b)
		return netip.AddrFrom16(a).String()
	}
	return nil
}

// pyDecodeReplace is Python's bytes.decode("utf-8", errors="replace"):
// each maximal ill-formed subsequence becomes one U+FFFD.
func pyDecodeReplace(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || n > 1 {
			sb.WriteString(string(b[i : i+n]))
			i += n
			continue
		}
		sb.WriteRune(utf8.RuneError)
		i += maximalSubpart(b[i:])
	}
	return sb.String()
}

// maximalSubpart returns the length of the ill-formed sequence at the
// start of b: the lead byte and the continuation bytes that could still
// have completed it (at least 1).
func maximalSubpart(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xbf)
	switch {
	case c >= 0xc2 && c <= 0xdf:
		need = 1
	case c >= 0xe0 && c <= 0xef:
		need = 2
		if c == 0xe0 {
			lo = 0xa0
		} else if c == 0xed {
			hi = 0x9f
		}
	case c >= 0xf0 && c <= 0xf4:
		need = 3
		if c == 0xf0 {
			lo = 0x90
		} else if c == 0xf4 {
			hi = 0x8f
		}
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		x := b[n]
		if k > 0 {
			lo, hi = 0x80, 0xbf
		}
		if x < lo || x > hi {
			break
		}
		n++
	}
	return n
}
