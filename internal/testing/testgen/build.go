package testgen

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"net"
	"net/netip"
	"sort"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// truth is what NFStream's parser makes of one frame, known by construction.
type truth struct {
	ignored bool
	reason  string

	srcIP, dstIP     netip.Addr
	srcPort, dstPort uint16
	proto            uint8
	ipVersion        uint8
	vlan             uint16
	tunnel           uint8
	srcMAC, dstMAC   net.HardwareAddr
	flags            TCPFlags

	// Sizes under accounting modes 1 (ip; ipAlt counts the IPv6 fixed
	// header too), 2 (transport) and 3 (payload). Mode 0 is the frame's
	// original length.
	ip, ipAlt, transport, payload int

	note string
}

// frame is one record of the file with its truth.
type frame struct {
	at      time.Duration // place in the file
	seq     int           // tie-break at equal at: order of creation
	ts      time.Time     // timestamp written
	data    []byte        // captured bytes
	origLen int
	iface   int
	t       truth
}

// ipPacket is one IP packet (or fragment) ready to be wrapped, with the
// IP-level part of its truth.
type ipPacket struct {
	b []byte
	t truth
}

// flowState is what consecutive packets of a flow share.
type flowState struct {
	seq     [2]uint32 // next TCP sequence number sent by A and by B
	ipID    [2]uint16
	icmpID  uint16
	icmpSeq uint16
	tsn     [2]uint32
	vtag    uint32
}

// rng is splitmix64: tiny, and its output never changes between Go
// releases, so the files stay byte-identical.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func seedOf(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

type builder struct {
	s      *Scenario
	r      rng
	frames []frame
}

var serializeOpts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}

func serialize(ls ...gopacket.SerializableLayer) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, serializeOpts, ls...); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

// fill returns n payload bytes: printable text, so no payload starts with
// an IP version nibble by accident.
func (b *builder) fill(n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 "
	p := make([]byte, n)
	for i := range p {
		p[i] = alphabet[b.r.next()%uint64(len(alphabet))]
	}
	return p
}

func ethType(a netip.Addr) layers.EthernetType {
	if a.Is4() {
		return layers.EthernetTypeIPv4
	}
	return layers.EthernetTypeIPv6
}

func zeroMAC() net.HardwareAddr { return make(net.HardwareAddr, 6) }

// build makes every frame of the scenario, in file order.
func (b *builder) build() error {
	seq := 0
	for fi := range b.s.Flows {
		f := &b.s.Flows[fi]
		st := &flowState{
			seq:    [2]uint32{uint32(b.r.next()), uint32(b.r.next())},
			ipID:   [2]uint16{uint16(b.r.next()), uint16(b.r.next())},
			icmpID: uint16(b.r.next()),
			tsn:    [2]uint32{uint32(b.r.next()), uint32(b.r.next())},
			vtag:   uint32(b.r.next()),
		}
		for _, p := range f.Packets {
			fs, err := b.flowFrames(f, st, p)
			if err != nil {
				return fmt.Errorf("scenario %s flow %d: %w", b.s.Name, fi, err)
			}
			for _, fr := range fs {
				fr.seq = seq
				seq++
				b.frames = append(b.frames, fr)
			}
		}
	}
	for _, e := range b.s.Extras {
		fr, err := b.extraFrame(e)
		if err != nil {
			return fmt.Errorf("scenario %s extra %d: %w", b.s.Name, e.Kind, err)
		}
		fr.seq = seq
		seq++
		b.frames = append(b.frames, fr)
	}
	sort.SliceStable(b.frames, func(i, j int) bool {
		if b.frames[i].at != b.frames[j].at {
			return b.frames[i].at < b.frames[j].at
		}
		return b.frames[i].seq < b.frames[j].seq
	})
	return nil
}

// flowFrames builds the frames of one packet of a flow (several when the
// packet is fragmented).
func (b *builder) flowFrames(f *Flow, st *flowState, p Packet) ([]frame, error) {
	ips, err := b.ipPackets(f, st, p)
	if err != nil {
		return nil, err
	}
	var out []frame
	for i, ip := range ips {
		data, t, err := b.wrap(f, p, ip)
		if err != nil {
			return nil, err
		}
		fr := frame{
			// Fragments follow each other 10 microseconds apart.
			at:      p.At + time.Duration(i)*10*time.Microsecond,
			ts:      b.s.Start.Add(p.At + p.Skew + time.Duration(i)*10*time.Microsecond),
			data:    data,
			origLen: len(data),
			iface:   p.Interface,
			t:       t,
		}
		if t.note == "" {
			fr.t.note = f.Note
		}
		b.truncate(&fr)
		out = append(out, fr)
	}
	return out, nil
}

// truncate applies the scenario's snapshot length. NFStream keeps
// truncated IPv4 packets (sizes come from headers) and ignores IPv6 packets
// whose payload is not fully captured (reference section 4).
func (b *builder) truncate(fr *frame) {
	if b.s.SnapLen == 0 || len(fr.data) <= b.s.SnapLen {
		return
	}
	fr.data = fr.data[:b.s.SnapLen]
	if !fr.t.ignored && fr.t.ipVersion == 6 {
		const ethHeader = 14
		if len(fr.data) < ethHeader+40+fr.t.ip {
			fr.t = truth{ignored: true, reason: "IPv6 payload not fully captured (snaplen)"}
		}
	}
}

// endpoints orders a flow's hosts and ports by the packet's sender.
func endpoints(f *Flow, d Dir) (src, dst Host, sport, dport uint16) {
	if d == AtoB {
		return f.A, f.B, f.APort, f.BPort
	}
	return f.B, f.A, f.BPort, f.APort
}

// synOptions are the options of SYN segments: MSS 1460, NOP, window scale
// 7, SACK permitted, NOP, NOP (12 bytes, data offset 8).
func synOptions() []layers.TCPOption {
	return []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
		{OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
		{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
		{OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindNop},
	}
}

// hopByHop is an 8-byte hop-by-hop options header: a router alert option
// (type 5, 2 bytes of data) and a PadN option with no data.
func hopByHop(next layers.IPProtocol) *layers.IPv6HopByHop {
	h := &layers.IPv6HopByHop{Options: []*layers.IPv6HopByHopOption{
		{OptionType: 5, OptionLength: 2, OptionData: []byte{0, 0}},
		{OptionType: 1, OptionLength: 0, OptionData: []byte{}},
	}}
	h.NextHeader = next
	return h
}

// destOptions is an 8-byte destination options header holding one PadN
// option with 4 bytes of data.
func destOptions(next layers.IPProtocol) *layers.IPv6Destination {
	d := &layers.IPv6Destination{Options: []*layers.IPv6DestinationOption{
		{OptionType: 1, OptionLength: 4, OptionData: []byte{0, 0, 0, 0}},
	}}
	d.NextHeader = next
	return d
}

// ipPackets builds the flow's IP packet for p, split into fragments when
// p asks for it, and says what NFStream reads from each.
func (b *builder) ipPackets(f *Flow, st *flowState, p Packet) ([]ipPacket, error) {
	src, dst, sport, dport := endpoints(f, p.Dir)
	d := int(p.Dir)
	v4 := src.IP.Is4()
	proto := layers.IPProtocol(f.Proto)

	var (
		ip4 *layers.IPv4
		ip6 *layers.IPv6
		nl  gopacket.NetworkLayer
	)
	ttl := uint8(64)
	if p.Dir == BtoA {
		ttl = 57
	}
	if v4 {
		ip4 = &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Id: st.ipID[d], Protocol: proto,
			SrcIP: src.IP.AsSlice(), DstIP: dst.IP.AsSlice()}
		if f.Proto == ProtoTCP {
			ip4.Flags = layers.IPv4DontFragment
		}
		st.ipID[d]++
		nl = ip4
	} else {
		ip6 = &layers.IPv6{Version: 6, HopLimit: ttl, NextHeader: proto, FlowLabel: uint32(st.icmpID)<<4 | uint32(d),
			SrcIP: src.IP.AsSlice(), DstIP: dst.IP.AsSlice()}
		nl = ip6
	}

	payload := gopacket.Payload(b.fill(p.Payload))
	var (
		l4       []gopacket.SerializableLayer
		l4Header int // transport header length as NFStream counts it
		counted  bool
	)
	t := truth{proto: f.Proto, srcIP: src.IP, dstIP: dst.IP}
	switch f.Proto {
	case ProtoTCP:
		tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport),
			Seq: st.seq[d], Window: 64240,
			FIN: p.Flags&FIN != 0, SYN: p.Flags&SYN != 0, RST: p.Flags&RST != 0, PSH: p.Flags&PSH != 0,
			ACK: p.Flags&ACK != 0, URG: p.Flags&URG != 0, ECE: p.Flags&ECE != 0, CWR: p.Flags&CWR != 0}
		if tcp.ACK {
			tcp.Ack = st.seq[1-d]
		}
		l4Header = 20
		if tcp.SYN {
			tcp.Options = synOptions()
			l4Header += 12
		}
		st.seq[d] += uint32(p.Payload)
		if tcp.SYN {
			st.seq[d]++
		}
		if tcp.FIN {
			st.seq[d]++
		}
		if err := tcp.SetNetworkLayerForChecksum(nl); err != nil {
			return nil, err
		}
		l4 = []gopacket.SerializableLayer{tcp, payload}
		t.srcPort, t.dstPort, t.flags, counted = sport, dport, p.Flags, true
	case ProtoUDP:
		udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		if err := udp.SetNetworkLayerForChecksum(nl); err != nil {
			return nil, err
		}
		l4 = []gopacket.SerializableLayer{udp, payload}
		l4Header = 8
		t.srcPort, t.dstPort, counted = sport, dport, true
	case ProtoICMP:
		typ := uint8(layers.ICMPv4TypeEchoRequest)
		if p.Dir == AtoB {
			st.icmpSeq++
		} else {
			typ = layers.ICMPv4TypeEchoReply
		}
		icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: st.icmpID, Seq: st.icmpSeq}
		l4 = []gopacket.SerializableLayer{icmp, payload}
		l4Header, counted = 8, true
	case ProtoICMPv6:
		typ := uint8(layers.ICMPv6TypeEchoRequest)
		if p.Dir == AtoB {
			st.icmpSeq++
		} else {
			typ = layers.ICMPv6TypeEchoReply
		}
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
		if err := icmp.SetNetworkLayerForChecksum(nl); err != nil {
			return nil, err
		}
		echo := &layers.ICMPv6Echo{Identifier: st.icmpID, SeqNumber: st.icmpSeq}
		l4 = []gopacket.SerializableLayer{icmp, echo, payload}
		l4Header, counted = 8, true
	case ProtoGRE:
		// GRE is opaque to NFStream: ports 0, transport and payload 0.
		l4 = []gopacket.SerializableLayer{&layers.GRE{Protocol: layers.EthernetTypeTransparentEthernetBridging}, payload}
	case ProtoSCTP:
		// SCTP has ports, but NFStream reads ports of TCP and UDP only.
		sctp := &layers.SCTP{SrcPort: layers.SCTPPort(sport), DstPort: layers.SCTPPort(dport), VerificationTag: st.vtag}
		data := &layers.SCTPData{
			SCTPChunk:     layers.SCTPChunk{Type: layers.SCTPChunkTypeData, Length: uint16(16 + p.Payload)},
			BeginFragment: true, EndFragment: true, TSN: st.tsn[d], PayloadProtocol: 46,
			Payload: payload,
		}
		st.tsn[d]++
		l4 = []gopacket.SerializableLayer{sctp, data}
	default:
		l4 = []gopacket.SerializableLayer{payload}
	}

	// Unfragmentable headers, then the fragmentable part (for IPv6 the
	// destination options travel with the transport header).
	var unfrag, frag []gopacket.SerializableLayer
	unfragLen, extLen := 20, 0 // extLen: IPv6 extension bytes before L4
	if v4 {
		t.ipVersion = 4
		unfrag = []gopacket.SerializableLayer{ip4}
	} else {
		t.ipVersion = 6
		unfragLen = 40
		if f.Encap.IPv6Options {
			ip6.NextHeader = layers.IPProtocolIPv6HopByHop
			unfrag = []gopacket.SerializableLayer{ip6, hopByHop(layers.IPProtocolIPv6Destination)}
			frag = []gopacket.SerializableLayer{destOptions(proto)}
			unfragLen, extLen = 48, 16
		} else {
			unfrag = []gopacket.SerializableLayer{ip6}
		}
	}
	frag = append(frag, l4...)
	whole, err := serialize(append(unfrag, frag...)...)
	if err != nil {
		return nil, err
	}
	// withSizes returns t with the sizes of an IP packet of n bytes whose
	// transport header starts after ext bytes of IPv6 extension headers.
	withSizes := func(t truth, n, ext int) truth {
		if v4 {
			t.ip, t.ipAlt = n, n // IPv4 total length
			n -= 20
		} else {
			t.ip, t.ipAlt = n-40, n // IPv6 payload length (and with the fixed header)
			n -= 40 + ext
		}
		if counted {
			t.transport, t.payload = n, max(n-l4Header, 0)
		}
		return t
	}
	if p.Fragments <= 1 {
		return []ipPacket{{b: whole, t: withSizes(t, len(whole), extLen)}}, nil
	}

	// Split the fragmentable part into 8-byte multiples.
	body := whole[unfragLen:]
	chunk := (len(body)/p.Fragments + 7) &^ 7
	var out []ipPacket
	fragID := uint32(b.r.next())
	for off := 0; off < len(body); off += chunk {
		end := min(off+chunk, len(body))
		more := end < len(body)
		part := gopacket.Payload(body[off:end])
		var ls []gopacket.SerializableLayer
		if v4 {
			h := *ip4
			h.Flags = 0
			if more {
				h.Flags = layers.IPv4MoreFragments
			}
			h.FragOffset = uint16(off / 8)
			ls = []gopacket.SerializableLayer{&h, part}
		} else {
			h := *ip6
			fh := &layers.IPv6Fragment{NextHeader: proto, FragmentOffset: uint16(off / 8), MoreFragments: more, Identification: fragID}
			if f.Encap.IPv6Options {
				fh.NextHeader = layers.IPProtocolIPv6Destination
				h.NextHeader = layers.IPProtocolIPv6HopByHop
				ls = []gopacket.SerializableLayer{&h, hopByHop(layers.IPProtocolIPv6Fragment), fh, part}
			} else {
				h.NextHeader = layers.IPProtocolIPv6Fragment
				ls = []gopacket.SerializableLayer{&h, fh, part}
			}
		}
		pb, err := serialize(ls...)
		if err != nil {
			return nil, err
		}
		var ft truth
		switch {
		case off == 0:
			// IPv6: hop-by-hop, fragment and destination options headers
			// are all walked before the transport header.
			ext := 8
			if f.Encap.IPv6Options {
				ext = 24
			}
			ft = withSizes(t, len(pb), ext)
		case v4 && b.s.Link == LinkNullLE:
			ft = nullLEFragment(t, body[off:end], len(pb))
		case v4:
			ft = truth{ignored: true, reason: "non-first IPv4 fragment"}
		default:
			ft = truth{ignored: true, reason: "non-first IPv6 fragment"}
		}
		out = append(out, ipPacket{b: pb, t: ft})
	}
	return out, nil
}

// nullLEFragment is the truth of a non-first IPv4 fragment on a loopback
// capture from a little-endian host: NFStream's family check fails there,
// so its fragment filter is skipped and the fragment's first bytes are read
// as a transport header (reference section 4, last quirk).
func nullLEFragment(t truth, data []byte, totLen int) truth {
	ft := truth{srcIP: t.srcIP, dstIP: t.dstIP, proto: t.proto, ipVersion: 4, ip: totLen, ipAlt: totLen,
		note: "non-first IPv4 fragment counted: on DLT_NULL with a little-endian family NFStream skips its fragment filter and reads the fragment's data as the transport header"}
	l4 := len(data)
	switch t.proto {
	case ProtoUDP:
		if l4 >= 8 {
			ft.srcPort = binary.BigEndian.Uint16(data[0:2])
			ft.dstPort = binary.BigEndian.Uint16(data[2:4])
			ft.transport, ft.payload = l4, l4-8
		}
	case ProtoICMP:
		ft.transport, ft.payload = l4, max(l4-8, 0)
	}
	return ft
}

// wrap puts an IP packet into the flow's encapsulation and the scenario's
// link framing, and completes its truth.
func (b *builder) wrap(f *Flow, p Packet, ip ipPacket) ([]byte, truth, error) {
	t := ip.t
	src, dst, _, _ := endpoints(f, p.Dir)
	wireSrc, wireDst := src.MAC, dst.MAC // link-layer addresses on the wire
	var innerMACs []net.HardwareAddr     // MACs a decoded tunnel reports
	ls := []gopacket.SerializableLayer{gopacket.Payload(ip.b)}
	next := ethType(src.IP) // EtherType of the first layer in ls

	// A UDP tunnel NFStream does not decode (see nullLEFragment): the
	// outer UDP packet is accounted instead of the inner one.
	var outerUDP *layers.UDP
	outerOnly := false

	if tun := f.Encap.Tunnel; tun != nil {
		o1, o2 := tun.Side1, tun.Side2
		if p.Dir == BtoA && tun.Kind != TunnelTZSP {
			o1, o2 = o2, o1
		}
		wireSrc, wireDst = o1.MAC, o2.MAC
		outer, onet := outerIP(o1, o2, p.Dir, uint16(b.r.next()))
		var udp *layers.UDP
		if tun.Kind != TunnelIPinIP {
			setOuterProto(outer, layers.IPProtocolUDP)
			udp = &layers.UDP{}
			if err := udp.SetNetworkLayerForChecksum(onet); err != nil {
				return nil, t, err
			}
		}
		switch tun.Kind {
		case TunnelIPinIP:
			proto := layers.IPProtocolIPv4
			if !src.IP.Is4() {
				proto = layers.IPProtocolIPv6
			}
			setOuterProto(outer, proto)
			ls = append([]gopacket.SerializableLayer{outer}, ls...)
		case TunnelGTPU:
			udp.SrcPort, udp.DstPort = 2152, 2152
			teid := tun.TEID2
			if p.Dir == BtoA {
				teid = tun.TEID1
			}
			gtp := &layers.GTPv1U{Version: 1, ProtocolType: 1, MessageType: 0xff, TEID: teid,
				ExtensionHeaderFlag: tun.GTPFlags&0x04 != 0, SequenceNumberFlag: tun.GTPFlags&0x02 != 0,
				NPDUFlag: tun.GTPFlags&0x01 != 0}
			if gtp.SequenceNumberFlag {
				gtp.SequenceNumber = uint16(b.r.next())
			}
			if gtp.ExtensionHeaderFlag {
				// PDU session container (type 0x85): PDU type 1 (uplink) or
				// 0 (downlink), QFI 9.
				pduType := byte(0x10)
				if p.Dir == BtoA {
					pduType = 0x00
				}
				gtp.GTPExtensionHeaders = []layers.GTPExtensionHeader{{Type: 0x85, Content: []byte{pduType, 0x09}}}
			}
			ls = append([]gopacket.SerializableLayer{outer, udp, gtp}, ls...)
			t.tunnel = 1
		case TunnelCAPWAP:
			udp.SrcPort, udp.DstPort = layers.UDPPort(tun.Port1), 5247
			if p.Dir == BtoA {
				udp.SrcPort, udp.DstPort = 5247, layers.UDPPort(tun.Port1)
			}
			d11 := dataFrame(layers.Dot11TypeData, f, p.Dir, tun.BSSID)
			ls = append([]gopacket.SerializableLayer{outer, udp, gopacket.Payload(capwapHeader()), d11,
				&layers.LLC{DSAP: 0xaa, SSAP: 0xaa, Control: 3},
				&layers.SNAP{OrganizationalCode: []byte{0, 0, 0}, Type: next}}, ls...)
			innerMACs = []net.HardwareAddr{d11.Address2, d11.Address3}
			t.tunnel = 2
		case TunnelTZSP:
			udp.SrcPort, udp.DstPort = layers.UDPPort(tun.Port1), 37008
			inner := &layers.Ethernet{SrcMAC: src.MAC, DstMAC: dst.MAC, EthernetType: next}
			ls = append([]gopacket.SerializableLayer{outer, udp, gopacket.Payload(tzspHeader(1)), inner}, ls...)
			innerMACs = []net.HardwareAddr{src.MAC, dst.MAC}
			t.tunnel = 3
		}
		next = ethType(o1.IP)
		if b.s.Link == LinkNullLE && udp != nil {
			outerOnly, outerUDP = true, udp
			t = truth{srcIP: o1.IP, dstIP: o2.IP, srcPort: uint16(udp.SrcPort), dstPort: uint16(udp.DstPort),
				proto: ProtoUDP, ipVersion: 4,
				note: "tunnel not decoded: on DLT_NULL with a little-endian family NFStream skips tunnel decoding"}
			innerMACs = nil
		}
	}

	// EtherType chain, innermost first.
	if s := f.Encap.PPPoESession; s != 0 {
		pt := layers.PPPTypeIPv4
		if next == layers.EthernetTypeIPv6 {
			pt = layers.PPPTypeIPv6
		}
		ls = append([]gopacket.SerializableLayer{
			&layers.PPPoE{Version: 1, Type: 1, Code: layers.PPPoECodeSession, SessionId: s},
			&layers.PPP{PPPType: pt}}, ls...)
		next = layers.EthernetTypePPPoESession
	}
	if n := len(f.Encap.MPLS); n > 0 {
		var ms []gopacket.SerializableLayer
		for i, l := range f.Encap.MPLS {
			ms = append(ms, &layers.MPLS{Label: l, TTL: 64, StackBottom: i == n-1})
		}
		ls = append(ms, ls...)
		next = layers.EthernetTypeMPLSUnicast
	}
	if n := len(f.Encap.VLANs); n > 0 {
		for i := n - 1; i >= 0; i-- {
			ls = append([]gopacket.SerializableLayer{&layers.Dot1Q{VLANIdentifier: f.Encap.VLANs[i], Type: next}}, ls...)
			next = layers.EthernetTypeDot1Q
		}
		t.vlan = f.Encap.VLANs[n-1] // the last (innermost) tag wins
	}

	linkLs, d11, err := b.link(next, wireSrc, wireDst, f, p)
	if err != nil {
		return nil, t, err
	}
	data, err := serialize(append(linkLs, ls...)...)
	if err != nil {
		return nil, t, err
	}
	if p.BadFCS {
		data = appendBadFCS(data)
	}

	switch {
	case innerMACs != nil:
		t.srcMAC, t.dstMAC = innerMACs[0], innerMACs[1]
	case d11 != nil:
		t.srcMAC, t.dstMAC = d11.Address2, d11.Address3
	case b.s.Link.hasMACs():
		t.srcMAC, t.dstMAC = wireSrc, wireDst
	default:
		t.srcMAC, t.dstMAC = zeroMAC(), zeroMAC()
	}
	if outerOnly {
		// Sizes of the outer IPv4 packet behind the 4-byte loopback header.
		t.ip = len(data) - 4
		t.ipAlt = t.ip
		t.transport = int(outerUDP.Length)
		t.payload = t.transport - 8
	}
	switch {
	case p.BadFCS:
		t = truth{ignored: true, reason: "radiotap flags say bad FCS"}
	case b.s.Link == LinkPPPAddrCtrl && !t.ignored:
		t = truth{ignored: true, reason: "PPP address/control bytes: NFStream takes a 2-byte PPP header, so the IP version nibble it reads is 0"}
	}
	return data, t, nil
}

// outerIP is the outer IP header of a tunnel from o1 to o2.
func outerIP(o1, o2 Host, d Dir, id uint16) (gopacket.SerializableLayer, gopacket.NetworkLayer) {
	ttl := uint8(255)
	if d == BtoA {
		ttl = 254
	}
	if o1.IP.Is4() {
		h := &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Id: id, SrcIP: o1.IP.AsSlice(), DstIP: o2.IP.AsSlice()}
		return h, h
	}
	h := &layers.IPv6{Version: 6, HopLimit: ttl, SrcIP: o1.IP.AsSlice(), DstIP: o2.IP.AsSlice()}
	return h, h
}

func setOuterProto(l gopacket.SerializableLayer, p layers.IPProtocol) {
	switch h := l.(type) {
	case *layers.IPv4:
		h.Protocol = p
	case *layers.IPv6:
		h.NextHeader = p
	}
}

// dataFrame is an 802.11 data frame header between a wireless station
// (A) and a wired host (B) through the access point bssid: A's frames go
// to the distribution system (addr1 BSSID, addr2 A, addr3 B), B's come
// from it (addr1 A, addr2 BSSID, addr3 B).
func dataFrame(typ layers.Dot11Type, f *Flow, d Dir, bssid net.HardwareAddr) *layers.Dot11 {
	if d == AtoB {
		return &layers.Dot11{Type: typ, Flags: layers.Dot11FlagsToDS, DurationID: 44,
			Address1: bssid, Address2: f.A.MAC, Address3: f.B.MAC}
	}
	return &layers.Dot11{Type: typ, Flags: layers.Dot11FlagsFromDS, DurationID: 44,
		Address1: f.A.MAC, Address2: bssid, Address3: f.B.MAC}
}

// capwapHeader is a CAPWAP data header (RFC 5415 section 4.3) of 8 bytes:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|CAPWAP Preamble|  HLEN   |   RID   | WBID    |T|F|L|W|M|K|Flags|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Fragment ID          |     Frag Offset         |Rsvd |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Preamble 0 (version 0, type 0), HLEN 2 (words), RID 1, WBID 1 (IEEE
// 802.11), T 1 (native 802.11 frame follows), no other flags.
func capwapHeader() []byte {
	return []byte{0x00, 0x10, 0x43, 0x00, 0x00, 0x00, 0x00, 0x00}
}

// tzspHeader is a TZSP header and its tag list:
//
//	+---------+---------+-------------------+-------- ... ----+
//	| version |  type   |   encapsulation   | tags, END (0x01) |
//	|   (1)   | (1)     |    (2, big-end.)  |                  |
//	+---------+---------+-------------------+-------- ... ----+
//
// Version 1, type 0 (received tag list), then the given encapsulation
// (1 = Ethernet, 18 = IEEE 802.11) and a single END tag.
func tzspHeader(encap uint16) []byte {
	return []byte{0x01, 0x00, byte(encap >> 8), byte(encap), 0x01}
}

// linuxSLL is a Linux cooked capture v1 header (16 bytes):
//
//	+---------------+---------------+---------------+
//	| packet type   | ARPHRD type   | address len   |
//	|     (2)       |     (2)       |     (2)       |
//	+---------------+---------------+---------------+
//	| link-layer address (8, zero padded)           |
//	+-----------------------------------------------+
//	| protocol (EtherType, 2)                       |
//	+-----------------------------------------------+
//
// Packet type 0 is "to us", 4 "sent by us"; ARPHRD 1 is Ethernet.
func linuxSLL(pktType uint16, addr net.HardwareAddr, proto layers.EthernetType) []byte {
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h[0:], pktType)
	binary.BigEndian.PutUint16(h[2:], 1)
	binary.BigEndian.PutUint16(h[4:], 6)
	copy(h[6:14], addr)
	binary.BigEndian.PutUint16(h[14:], uint16(proto))
	return h
}

// linuxSLL2 is a Linux cooked capture v2 header (20 bytes):
//
//	+---------------+---------------+-------------------------------+
//	| protocol (2)  | reserved (2)  | interface index (4)           |
//	+---------------+-------+-------+-------------------------------+
//	| ARPHRD type(2)|pkttype|addrlen| link-layer address (8)        |
//	+---------------+-------+-------+-------------------------------+
func linuxSLL2(pktType uint8, ifindex uint32, addr net.HardwareAddr, proto layers.EthernetType) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], uint16(proto))
	binary.BigEndian.PutUint32(h[4:], ifindex)
	binary.BigEndian.PutUint16(h[8:], 1)
	h[10] = pktType
	h[11] = 6
	copy(h[12:20], addr)
	return h
}

// ciscoHDLC is a Cisco HDLC header (4 bytes):
//
//	+---------+---------+-------------------+
//	| address | control | protocol (2)      |
//	+---------+---------+-------------------+
//
// Address 0x0f is unicast, 0x8f broadcast; control is 0.
func ciscoHDLC(broadcast bool, proto layers.EthernetType) []byte {
	addr := byte(0x0f)
	if broadcast {
		addr = 0x8f
	}
	return []byte{addr, 0x00, byte(proto >> 8), byte(proto)}
}

// nullFamily is the 4-byte BSD loopback header: the address family in the
// capturing host's byte order. 2 is AF_INET; 30 is AF_INET6 on Darwin.
func nullFamily(bigEndian bool, et layers.EthernetType) []byte {
	fam := uint32(2)
	if et == layers.EthernetTypeIPv6 {
		fam = 30
	}
	h := make([]byte, 4)
	if bigEndian {
		binary.BigEndian.PutUint32(h, fam)
	} else {
		binary.LittleEndian.PutUint32(h, fam)
	}
	return h
}

// radiotap is the radiotap header of every 802.11 frame: TSFT, flags,
// rate, channel and antenna signal. TSFT comes first, so the flags byte
// sits at offset 16 as NFStream expects it.
func (b *builder) radiotap(p Packet) *layers.RadioTap {
	flags := layers.RadioTapFlags(0)
	if p.BadFCS {
		flags |= layers.RadioTapFlagsFCS | layers.RadioTapFlagsBadFCS
	}
	return &layers.RadioTap{
		Present: []layers.RadioTapPresent{layers.RadioTapPresentTSFT | layers.RadioTapPresentFlags |
			layers.RadioTapPresentRate | layers.RadioTapPresentChannel | layers.RadioTapPresentDBMAntennaSignal},
		RadioTapValues: []layers.RadioTapNamespace{{
			TSFT:             uint64(p.At / time.Microsecond),
			Flags:            flags,
			Rate:             layers.RadioTapRate(108), // 54 Mb/s in 500 kb/s units
			ChannelFrequency: 2437,
			ChannelFlags:     layers.RadioTapChannelFlagsOFDM | layers.RadioTapChannelFlagsGhz2,
			DBMAntennaSignal: -42,
		}},
	}
}

// appendBadFCS appends a frame check sequence that does not match.
func appendBadFCS(data []byte) []byte {
	fcs := crc32.ChecksumIEEE(data) ^ 0xdeadbeef
	return binary.LittleEndian.AppendUint32(data, fcs)
}

// link returns the link-layer layers for a packet whose next header has
// EtherType next, and the 802.11 header when the link is radiotap.
func (b *builder) link(next layers.EthernetType, wireSrc, wireDst net.HardwareAddr, f *Flow, p Packet) ([]gopacket.SerializableLayer, *layers.Dot11, error) {
	switch b.s.Link {
	case LinkEthernet:
		return []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: wireSrc, DstMAC: wireDst, EthernetType: next}}, nil, nil
	case LinkEthernetSNAP:
		return []gopacket.SerializableLayer{
			&layers.Ethernet{SrcMAC: wireSrc, DstMAC: wireDst, EthernetType: layers.EthernetTypeLLC},
			&layers.LLC{DSAP: 0xaa, SSAP: 0xaa, Control: 3},
			&layers.SNAP{OrganizationalCode: []byte{0, 0, 0}, Type: next},
		}, nil, nil
	case LinkSLL:
		typ := uint16(4)
		if p.Dir == BtoA {
			typ = 0
		}
		return []gopacket.SerializableLayer{gopacket.Payload(linuxSLL(typ, wireSrc, next))}, nil, nil
	case LinkSLL2:
		typ := uint8(4)
		if p.Dir == BtoA {
			typ = 0
		}
		return []gopacket.SerializableLayer{gopacket.Payload(linuxSLL2(typ, 2, wireSrc, next))}, nil, nil
	case LinkNullBE:
		return []gopacket.SerializableLayer{gopacket.Payload(nullFamily(true, next))}, nil, nil
	case LinkNullLE:
		fam := layers.ProtocolFamilyIPv4
		if next == layers.EthernetTypeIPv6 {
			fam = layers.ProtocolFamilyIPv6Darwin
		}
		return []gopacket.SerializableLayer{&layers.Loopback{Family: fam}}, nil, nil
	case LinkPPP, LinkPPPAddrCtrl:
		pt := layers.PPPTypeIPv4
		if next == layers.EthernetTypeIPv6 {
			pt = layers.PPPTypeIPv6
		}
		return []gopacket.SerializableLayer{&layers.PPP{PPPType: pt, HasPPTPHeader: b.s.Link == LinkPPPAddrCtrl}}, nil, nil
	case LinkPPPCiscoHDLC, LinkCiscoHDLC:
		bcast := f.B.IP.IsMulticast() || (f.B.IP.Is4() && f.B.IP.As4()[3] == 255)
		return []gopacket.SerializableLayer{gopacket.Payload(ciscoHDLC(bcast, next))}, nil, nil
	case LinkRaw, LinkIPv4, LinkIPv6:
		return nil, nil, nil
	case LinkRadiotap:
		bssid := net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
		if f.Encap.Tunnel != nil && f.Encap.Tunnel.BSSID != nil {
			bssid = f.Encap.Tunnel.BSSID
		}
		d11 := dataFrame(layers.Dot11TypeDataQOSData, f, p.Dir, bssid)
		return []gopacket.SerializableLayer{
			b.radiotap(p), d11,
			// QoS control: TID 0, normal ack.
			gopacket.Payload{0x00, 0x00},
			&layers.LLC{DSAP: 0xaa, SSAP: 0xaa, Control: 3},
			&layers.SNAP{OrganizationalCode: []byte{0, 0, 0}, Type: next},
		}, d11, nil
	}
	return nil, nil, fmt.Errorf("unknown link %d", b.s.Link)
}

// extraFrame builds a frame outside the flows.
func (b *builder) extraFrame(e Extra) (frame, error) {
	bcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	var (
		ls []gopacket.SerializableLayer
		t  truth
	)
	switch e.Kind {
	case ExtraARP:
		arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
			HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest,
			SourceHwAddress: e.From.MAC, SourceProtAddress: e.From.IP.AsSlice(),
			DstHwAddress: zeroMAC(), DstProtAddress: e.To.IP.AsSlice()}
		switch b.s.Link {
		case LinkSLL:
			ls = []gopacket.SerializableLayer{gopacket.Payload(linuxSLL(4, e.From.MAC, layers.EthernetTypeARP)), arp}
		case LinkSLL2:
			ls = []gopacket.SerializableLayer{gopacket.Payload(linuxSLL2(4, 2, e.From.MAC, layers.EthernetTypeARP)), arp}
		default:
			ls = []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: e.From.MAC, DstMAC: bcast, EthernetType: layers.EthernetTypeARP}, arp}
		}
		t = truth{ignored: true, reason: "ARP: not IP"}
	case ExtraSTP:
		stpDst := net.HardwareAddr{0x01, 0x80, 0xc2, 0x00, 0x00, 0x00}
		ls = []gopacket.SerializableLayer{
			&layers.Ethernet{SrcMAC: e.From.MAC, DstMAC: stpDst, EthernetType: layers.EthernetTypeLLC},
			&layers.LLC{DSAP: 0x42, SSAP: 0x42, Control: 3},
			&layers.STP{RouteID: layers.STPSwitchID{Priority: 32768, HwAddr: e.From.MAC},
				BridgeID: layers.STPSwitchID{Priority: 32768, HwAddr: e.From.MAC},
				PortID:   0x8001, MaxAge: 20 << 8, HelloTime: 2 << 8, FDelay: 15 << 8},
		}
		t = truth{ignored: true, reason: "802.3 frame with DSAP/SSAP 0x42: spanning tree"}
	case ExtraQinQ:
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: e.From.IP.AsSlice(), DstIP: e.To.IP.AsSlice()}
		udp := &layers.UDP{SrcPort: 33000, DstPort: 53}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			return frame{}, err
		}
		ls = []gopacket.SerializableLayer{
			&layers.Ethernet{SrcMAC: e.From.MAC, DstMAC: e.To.MAC, EthernetType: layers.EthernetTypeQinQ},
			// Priority 0: the tag's first nibble, read as an IP version, is 0.
			&layers.Dot1Q{VLANIdentifier: 300, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 30, Type: layers.EthernetTypeIPv4},
			ip, udp, gopacket.Payload(b.fill(30)),
		}
		t = truth{ignored: true, reason: "802.1ad 0x88a8 tag: not recognised, the IP version nibble read is 0"}
	case ExtraPPPoEDiscovery:
		ls = []gopacket.SerializableLayer{
			&layers.Ethernet{SrcMAC: e.From.MAC, DstMAC: bcast, EthernetType: layers.EthernetTypePPPoEDiscovery},
			&layers.PPPoE{Version: 1, Type: 1, Code: layers.PPPoECodePADI},
			// Tags: Service-Name (0x0101) empty, Host-Uniq (0x0103) 4 bytes.
			gopacket.Payload{0x01, 0x01, 0x00, 0x00, 0x01, 0x03, 0x00, 0x04, 0x12, 0x34, 0x56, 0x78},
		}
		t = truth{ignored: true, reason: "PPPoE discovery: not IP"}
	case ExtraBeacon:
		ls = []gopacket.SerializableLayer{
			b.radiotap(Packet{At: e.At}),
			&layers.Dot11{Type: layers.Dot11TypeMgmtBeacon, Address1: bcast, Address2: e.From.MAC, Address3: e.From.MAC},
			&layers.Dot11MgmtBeacon{Timestamp: uint64(e.At / time.Microsecond), Interval: 100, Flags: 0x0411},
			// SSID element "testgen".
			gopacket.Payload{0x00, 0x07, 't', 'e', 's', 't', 'g', 'e', 'n'},
		}
		t = truth{ignored: true, reason: "802.11 management frame: only data frames are parsed"}
	case ExtraTZSPOtherEncap:
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: e.From.IP.AsSlice(), DstIP: e.To.IP.AsSlice()}
		udp := &layers.UDP{SrcPort: 40001, DstPort: 37008}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			return frame{}, err
		}
		inner := b.fill(60)
		ls = []gopacket.SerializableLayer{
			&layers.Ethernet{SrcMAC: e.From.MAC, DstMAC: e.To.MAC, EthernetType: layers.EthernetTypeIPv4},
			ip, udp, gopacket.Payload(tzspHeader(18)), gopacket.Payload(inner),
		}
		l4 := 8 + 5 + len(inner)
		t = truth{srcIP: e.From.IP, dstIP: e.To.IP, srcPort: 40001, dstPort: 37008, proto: ProtoUDP, ipVersion: 4,
			tunnel: 3, srcMAC: e.From.MAC, dstMAC: e.To.MAC,
			ip: 20 + l4, ipAlt: 20 + l4, transport: l4, payload: l4 - 8,
			note: "TZSP with a non-Ethernet encapsulation: NFStream accounts the outer UDP packet with tunnel_id 3"}
	default:
		return frame{}, fmt.Errorf("unknown extra kind %d", e.Kind)
	}
	data, err := serialize(ls...)
	if err != nil {
		return frame{}, err
	}
	return frame{at: e.At, ts: b.s.Start.Add(e.At + e.Skew), data: data, origLen: len(data), iface: e.Interface, t: t}, nil
}
