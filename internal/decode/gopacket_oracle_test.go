package decode

// gopacket as an independent oracle of the decoder (issue #10).
//
// github.com/gopacket/gopacket decodes every record a second time, and the
// fields both decoders know about are compared: IP version, addresses, IP
// protocol, ports, VLAN id and NFStream's IP, transport and payload sizes.
// NFStream has documented quirks (its C engine is what this package
// reproduces, not RFC-correct parsing), so some records are excluded from
// the comparison, each by a named rule of oracleRules with the reason; the
// corpus test counts the records of every rule and fails on any record
// where the two decoders disagree and no rule explains it.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// oracle holds the gopacket decoding layers, reused for every record, and
// one DecodingLayerParser per first layer type (a parser's first layer is
// fixed when it is made).
type oracle struct {
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	llc   layers.LLC
	snap  layers.SNAP
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	loop  layers.Loopback
	ip4   layers.IPv4
	ip6   layers.IPv6
	ext   layers.IPv6ExtensionSkipper
	frag  layers.IPv6Fragment
	tcp   layers.TCP
	udp   layers.UDP
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6
	gtp   layers.GTPv1U

	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	byType  map[gopacket.LayerType]gopacket.DecodingLayer
	decoded []gopacket.LayerType
	// Set by ip4Checked and ip6Checked; see gpFrame.
	badVersion, v4ZeroLen, ipShort, v6Short, encap bool
}

func newOracle() *oracle {
	o := &oracle{parsers: map[gopacket.LayerType]*gopacket.DecodingLayerParser{}}
	o.byType = map[gopacket.LayerType]gopacket.DecodingLayer{
		layers.LayerTypeEthernet:        &o.eth,
		layers.LayerTypeDot1Q:           &o.dot1q,
		layers.LayerTypeLLC:             &o.llc,
		layers.LayerTypeSNAP:            &o.snap,
		layers.LayerTypeLinuxSLL:        &o.sll,
		layers.LayerTypeLinuxSLL2:       &o.sll2,
		layers.LayerTypeLoopback:        &o.loop,
		layers.LayerTypeIPv4:            &o.ip4,
		layers.LayerTypeIPv6:            &o.ip6,
		layers.LayerTypeIPv6HopByHop:    &o.ext,
		layers.LayerTypeIPv6Routing:     &o.ext,
		layers.LayerTypeIPv6Destination: &o.ext,
		layers.LayerTypeIPv6Fragment:    &o.frag,
		layers.LayerTypeTCP:             &o.tcp,
		layers.LayerTypeUDP:             &o.udp,
		layers.LayerTypeICMPv4:          &o.icmp4,
		layers.LayerTypeICMPv6:          &o.icmp6,
		layers.LayerTypeGTPv1U:          &o.gtp,
	}
	return o
}

func (o *oracle) parser(first gopacket.LayerType) *gopacket.DecodingLayerParser {
	if p, ok := o.parsers[first]; ok {
		return p
	}
	// The skipper is added before the fragment layer, which then takes
	// over LayerTypeIPv6Fragment from it.
	p := gopacket.NewDecodingLayerParser(first,
		&o.eth, &o.dot1q, &o.llc, &o.snap, &o.sll, &o.sll2, &o.loop,
		ip4Checked{&o.ip4, o}, ip6Checked{&o.ip6, o}, &o.ext, &o.frag, &o.tcp, &o.udp, &o.icmp4, &o.icmp6, &o.gtp)
	// Application layers (DNS, TLS...) are of no interest: decoding stops
	// there without an error.
	p.IgnoreUnsupported = true
	o.parsers[first] = p
	return p
}

// ip4Checked and ip6Checked note an IP header whose version nibble is not
// that of the layer gopacket decodes it as, as it decodes it: when a record
// has two headers of one type (IP-in-IP, GTP-U), DecodingLayerParser
// decodes both into the same layer, and the first is gone afterwards.
type ip4Checked struct {
	*layers.IPv4
	o *oracle
}

func (l ip4Checked) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	err := l.IPv4.DecodeFromBytes(data, df)
	if err == nil && l.Version != 4 {
		l.o.badVersion = true
	}
	if len(data) >= 4 && data[2] == 0 && data[3] == 0 {
		l.o.v4ZeroLen = true
	}
	if err == nil && int(l.Length) > len(data) {
		l.o.ipShort = true
	}
	if err == nil && l.Protocol == layers.IPProtocolIPIP {
		l.o.encap = true
	}
	return err
}

type ip6Checked struct {
	*layers.IPv6
	o *oracle
}

func (l ip6Checked) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	err := l.IPv6.DecodeFromBytes(data, df)
	if err == nil && l.Version != 6 {
		l.o.badVersion = true
	}
	if len(data) >= 40 && 40+int(binary.BigEndian.Uint16(data[4:6])) > len(data) {
		l.o.ipShort, l.o.v6Short = true, true
	}
	if err == nil && l.NextLayerType() == layers.LayerTypeIPv4 && l.NextHeader == layers.IPProtocolIPIP {
		l.o.encap = true
	}
	return err
}

// gpFrame is gopacket's decoding of one record.
type gpFrame struct {
	layers    []any // gopacket.Layer, or DecodingLayer for the extension skipper
	truncated bool
	err       error
	errAt     gopacket.LayerType // the layer gopacket failed on, with err
	next      gopacket.LayerType // the layer after the last decoded one
	via       string
	// badVersion: an IP header's version nibble is not that of its type.
	badVersion bool
	v4ZeroLen  bool // an IPv4 header with a total length of 0
	// ipShort: an IP header's length runs past the captured bytes (v6Short:
	// an IPv6 header's); the record was cut by the snapshot length.
	ipShort, v6Short bool
	// encap: an IP header with protocol 94 (IPIP), which gopacket decodes
	// as IP in IP.
	encap bool
}

// Layer types gopacket decodes only as a packet (no DecodingLayer): when
// DecodingLayerParser stops at one, the record is decoded again with
// gopacket.NewPacket.
var packetOnly = map[gopacket.LayerType]bool{
	layers.LayerTypeMPLS:  true,
	layers.LayerTypePPPoE: true,
	layers.LayerTypePPP:   true,
}

// decode runs gopacket on a record of the given link type. ok is false for
// link types gopacket has no decoder for.
func (o *oracle) decode(link capture.LinkType, data []byte) (gpFrame, bool) {
	o.badVersion, o.v4ZeroLen, o.ipShort, o.v6Short, o.encap = false, false, false, false, false
	f, ok := o.decodeLink(link, data)
	f.encap = f.encap || o.encap
	f.badVersion = f.badVersion || o.badVersion
	f.v4ZeroLen = f.v4ZeroLen || o.v4ZeroLen
	f.ipShort = f.ipShort || o.ipShort
	f.v6Short = f.v6Short || o.v6Short
	return f, ok
}

func (o *oracle) decodeLink(link capture.LinkType, data []byte) (gpFrame, bool) {
	var first gopacket.LayerType
	switch link {
	case capture.LinkEthernet:
		first = layers.LayerTypeEthernet
	case capture.LinkNull:
		first = layers.LayerTypeLoopback
	case capture.LinkLinuxSLL:
		first = layers.LayerTypeLinuxSLL
	case capture.LinkLinuxSLL2:
		first = layers.LayerTypeLinuxSLL2
	case capture.LinkIPv4:
		first = layers.LayerTypeIPv4
	case capture.LinkIPv6:
		first = layers.LayerTypeIPv6
	case capture.LinkRaw, capture.LinkRawBSD:
		// gopacket's raw decoder picks the IP version by the first nibble.
		first = layers.LayerTypeIPv4
		if len(data) > 0 && data[0]>>4 == 6 {
			first = layers.LayerTypeIPv6
		}
	case capture.LinkPPP, capture.LinkPPPSerial:
		if link == capture.LinkPPP && len(data) > 0 && (data[0] == 0x0f || data[0] == 0x8f) {
			// NFStream takes DLT_PPP records that start like Cisco HDLC
			// (0x0f/0x8f) as Cisco HDLC; gopacket's PPP decoder does not
			// know that framing, so the record goes the C-HDLC way below.
			return o.decodeLink(capture.LinkCHDLC, data)
		}
		// RFC 1661 PPP, with or without the RFC 1662 ff 03 address and
		// control bytes: gopacket's PPP decoder takes both.
		return o.packet(layers.LayerTypePPP, data), true
	case capture.LinkCHDLC:
		// gopacket has no Cisco HDLC decoder. The header is four bytes,
		// address, control and an EtherType; the oracle reads only that
		// EtherType and gopacket decodes from there on.
		if len(data) < 4 {
			return gpFrame{err: fmt.Errorf("short C-HDLC header"), errAt: gopacket.LayerTypeZero}, true
		}
		et := layers.EthernetType(binary.BigEndian.Uint16(data[2:4]))
		f, fallback := o.decodeFrom(et.LayerType(), data[4:])
		if fallback {
			f = o.packet(et.LayerType(), data[4:])
		}
		return f, true
	case capture.LinkRadiotap:
		return o.packet(layers.LayerTypeRadioTap, data), true
	default:
		return gpFrame{}, false
	}
	f, fallback := o.decodeFrom(first, data)
	if fallback {
		f = o.packet(first, data)
	}
	return f, true
}

// decodeFrom runs DecodingLayerParser from layer first. fallback reports
// that it stopped at a layer only gopacket.NewPacket decodes.
func (o *oracle) decodeFrom(first gopacket.LayerType, data []byte) (f gpFrame, fallback bool) {
	p := o.parser(first)
	o.decoded = o.decoded[:0]
	err := p.DecodeLayers(data, &o.decoded)
	f.via = "DecodingLayerParser"
	f.truncated = p.Truncated
	for _, t := range o.decoded {
		f.layers = append(f.layers, o.byType[t])
	}
	f.next = first
	if n := len(o.decoded); n > 0 {
		f.next = o.byType[o.decoded[n-1]].NextLayerType()
	}
	if err != nil {
		f.err, f.errAt = err, f.next
		if _, unsupported := err.(gopacket.UnsupportedLayerType); unsupported {
			f.err = nil
		}
	}
	if _, known := o.byType[first]; !known && len(o.decoded) == 0 {
		f.next = first
	}
	if f.err == nil && f.next == gopacket.LayerTypeFragment {
		o.firstFragment(&f)
	}
	return f, f.err == nil && packetOnly[f.next]
}

// firstFragment goes on decoding after a first fragment (offset 0, more
// fragments set), which gopacket hands over as a fragment payload while
// NFStream reads its transport header: DecodingLayerParser starts again at
// the fragment's next header.
func (o *oracle) firstFragment(f *gpFrame) {
	if len(f.layers) == 0 {
		return
	}
	var next layers.IPProtocol
	var payload []byte
	switch l := f.layers[len(f.layers)-1].(type) {
	case *layers.IPv4:
		if l.FragOffset != 0 {
			return
		}
		next, payload = l.Protocol, l.Payload
		if layers.LayerClassIPv6Extension.Contains(next.LayerType()) {
			// As IPv4.NextLayerType: no IPv6 extension header in IPv4.
			f.next = gopacket.LayerTypeZero
			return
		}
	case *layers.IPv6Fragment:
		if l.FragmentOffset != 0 {
			return
		}
		next, payload = l.NextHeader, l.Payload
	default:
		return
	}
	first := next.LayerType()
	if _, ok := o.byType[first]; !ok {
		f.next = first
		return
	}
	o.decoded = o.decoded[:0]
	p := o.parser(first)
	// p.Truncated is not taken over: a first fragment is shorter than what
	// its transport header announces (a UDP length covers the whole
	// datagram) without the capture being cut.
	err := p.DecodeLayers(payload, &o.decoded)
	for _, t := range o.decoded {
		f.layers = append(f.layers, o.byType[t])
	}
	f.next = first
	if n := len(o.decoded); n > 0 {
		f.next = o.byType[o.decoded[n-1]].NextLayerType()
	}
	if err != nil {
		if _, unsupported := err.(gopacket.UnsupportedLayerType); !unsupported {
			f.err, f.errAt = err, f.next
		}
	}
}

// packet decodes the record with gopacket.NewPacket, from layer first.
func (o *oracle) packet(first gopacket.LayerType, data []byte) gpFrame {
	pk := gopacket.NewPacket(data, first, gopacket.DecodeOptions{NoCopy: true})
	f := gpFrame{via: "NewPacket", truncated: pk.Metadata().Truncated}
	for _, l := range pk.Layers() {
		if l.LayerType() == gopacket.LayerTypeDecodeFailure {
			f.err = pk.ErrorLayer().Error()
			if n := len(f.layers); n > 0 {
				last := f.layers[n-1].(gopacket.Layer)
				if len(last.LayerContents()) == 0 {
					// Some of gopacket's decoders add their layer before
					// decoding it: this is the layer that failed.
					f.layers = f.layers[:n-1]
					f.errAt = last.LayerType()
				} else if d, ok := last.(interface{ NextLayerType() gopacket.LayerType }); ok {
					f.errAt = d.NextLayerType()
				}
			}
			break
		}
		f.layers = append(f.layers, l)
	}
	if f.err != nil && f.errAt == gopacket.LayerTypeZero && len(f.layers) == 0 {
		f.errAt = first
	}
	if f.err != nil && len(f.layers) > 0 && pastTransport(f.layers[len(f.layers)-1], f.errAt) {
		// NewPacket decodes application layers too (DNS...): an error
		// there says nothing about the fields compared.
		f.err = nil
	}
	if n := len(pk.Layers()); f.err == nil && n > 0 && pk.Layers()[n-1].LayerType() == gopacket.LayerTypeFragment {
		f.layers = f.layers[:len(f.layers)-1]
		f.next = gopacket.LayerTypeFragment
		o.firstFragment(&f)
	}
	return f
}

// pastTransport reports whether a layer gopacket failed on (errAt), after
// the layer last, lies beyond what NFStream parses: an application layer
// after TCP, UDP or ICMP, or an IP payload other than those, IP-in-IP and
// IPv6 extension headers.
func pastTransport(last any, errAt gopacket.LayerType) bool {
	switch errAt {
	case layers.LayerTypeIPv4, layers.LayerTypeIPv6, layers.LayerTypeTCP, layers.LayerTypeUDP,
		layers.LayerTypeICMPv4, layers.LayerTypeICMPv6, layers.LayerTypeGTPv1U:
		return false
	}
	if layers.LayerClassIPv6Extension.Contains(errAt) {
		return false
	}
	switch last.(type) {
	case *layers.TCP, *layers.UDP, *layers.ICMPv4, *layers.ICMPv6, *layers.IPv4, *layers.IPv6:
		return true
	}
	return false
}

// gpView is what gopacket says about the fields the decoder reports, taken
// from the last IP header (NFStream meters the innermost packet of IP-in-IP
// and GTP-U) and what follows it, with facts about the whole record that
// the rules need.
type gpView struct {
	gpIP              // the last IP header and what follows it
	ip         bool   // gopacket found an IP header
	ipLayers   int    // how many
	vlan       uint16 // the last 802.1Q tag's VLAN id
	qinq       bool   // an 802.1ad (0x88a8) tag
	gtp        bool   // a GTP-U header
	badVersion bool   // an IP header whose version nibble is not that of its type
	v4ZeroLen  bool   // an IPv4 header with a total length of 0
	// ipShort: an IP header (v6Short: an IPv6 header) whose length runs
	// past the captured bytes.
	ipShort, v6Short bool
	// pppoeDiscovery: a PPPoE discovery (0x8863) header, which gopacket
	// decodes as PPPoE.
	pppoeDiscovery bool
	// llcLongControl: an LLC header with a 2-byte control field.
	llcLongControl bool
	// llcSAPBits: an LLC header with the I/G or C/R bit of a SAP set.
	llcSAPBits bool
	// encap: an encapsulation NFStream does not decode (GRE, EtherIP,
	// VXLAN, Geneve, IPsec AH, MPLS in IP, IPIP protocol 94).
	encap bool
	// pppShortProto: a PPP header with a 1-byte (compressed) protocol.
	pppShortProto bool
}

// gpIP is gopacket's reading of one IP header and what follows it.
type gpIP struct {
	version      uint8
	src, dst     [16]byte
	proto        uint8 // after the IPv6 extension headers
	sport, dport uint16
	ipSize       uint16
	ipHeaderOK   bool   // the last IP header decoded without error
	l4           []byte // gopacket's bytes after the IP and extension headers
	transport    any    // *layers.TCP, UDP, ICMPv4, ICMPv6 or nil
	transportErr error
	v4Later      bool // an IPv4 fragment with a non-zero offset
	v6Later      bool // an IPv6 fragment header with a non-zero offset
	udpLen       uint16
}

func ipProtocolOf(l any) (uint8, bool) {
	switch l := l.(type) {
	case *layers.IPv6ExtensionSkipper:
		return uint8(l.NextHeader), true
	case *layers.IPv6Fragment:
		return uint8(l.NextHeader), true
	case *layers.IPv6Routing:
		return uint8(l.NextHeader), true
	case *layers.IPv6Destination:
		return uint8(l.NextHeader), true
	case *layers.IPv6HopByHop:
		return uint8(l.NextHeader), true
	}
	return 0, false
}

// view reads the fields out of gopacket's layers.
func (f *gpFrame) view() gpView {
	v := gpView{badVersion: f.badVersion, v4ZeroLen: f.v4ZeroLen, ipShort: f.ipShort, v6Short: f.v6Short, encap: f.encap}
	for _, l := range f.layers {
		switch l := l.(type) {
		case *layers.GRE, *layers.EtherIP, *layers.VXLAN, *layers.Geneve, *layers.IPSecAH:
			v.encap = true
		case *layers.MPLS:
			v.encap = v.encap || v.ip
		case *layers.Ethernet:
			if l.EthernetType == layers.EthernetTypeQinQ {
				v.qinq = true
			}
			v.pppoeDiscovery = v.pppoeDiscovery || l.EthernetType == layers.EthernetTypePPPoEDiscovery
		case *layers.Dot1Q:
			v.vlan = l.VLANIdentifier
			if l.Type == layers.EthernetTypeQinQ {
				v.qinq = true
			}
			v.pppoeDiscovery = v.pppoeDiscovery || l.Type == layers.EthernetTypePPPoEDiscovery
		case *layers.LLC:
			v.llcLongControl = v.llcLongControl || len(l.Contents) != 3
			v.llcSAPBits = v.llcSAPBits || l.IG || l.CR
		case *layers.PPP:
			v.pppShortProto = v.pppShortProto || len(l.Contents) == 1
		case *layers.LinuxSLL:
			if l.EthernetType == layers.EthernetTypeQinQ {
				v.qinq = true
			}
		case *layers.IPv4:
			v.gpIP = gpIP{version: 4, ipHeaderOK: true}
			v.ip, v.ipLayers = true, v.ipLayers+1
			v.badVersion = v.badVersion || l.Version != 4
			v.ipShort = v.ipShort || int(l.Length) > len(l.Contents)+len(l.Payload)
			v.v4ZeroLen = v.v4ZeroLen || len(l.Contents) >= 4 && l.Contents[2] == 0 && l.Contents[3] == 0
			copy(v.src[:], l.SrcIP.To4())
			copy(v.dst[:], l.DstIP.To4())
			v.proto = uint8(l.Protocol)
			v.ipSize = l.Length
			v.l4 = l.Payload
			v.v4Later = l.FragOffset != 0
			v.encap = v.encap || l.Protocol == layers.IPProtocolIPIP
		case *layers.IPv6:
			hbh := 0
			if l.HopByHop != nil {
				hbh = len(l.HopByHop.Contents)
			}
			short := int(l.Length) > hbh+len(l.Payload)
			v.gpIP = gpIP{version: 6, ipHeaderOK: true}
			v.ip, v.ipLayers = true, v.ipLayers+1
			v.badVersion = v.badVersion || l.Version != 6
			v.ipShort, v.v6Short = v.ipShort || short, v.v6Short || short
			copy(v.src[:], l.SrcIP.To16())
			copy(v.dst[:], l.DstIP.To16())
			v.proto = uint8(l.NextHeader)
			v.ipSize = l.Length
			v.l4 = l.Payload
			if l.HopByHop != nil {
				v.proto = uint8(l.HopByHop.NextHeader)
			}
			v.encap = v.encap || v.proto == uint8(layers.IPProtocolIPIP)
		case *layers.IPv6Fragment:
			v.proto = uint8(l.NextHeader)
			v.l4 = l.Payload
			v.v6Later = v.v6Later || l.FragmentOffset != 0
		case *layers.TCP, *layers.UDP, *layers.ICMPv4, *layers.ICMPv6:
			v.transport = l
			if u, ok := l.(*layers.UDP); ok {
				v.sport, v.dport, v.udpLen = uint16(u.SrcPort), uint16(u.DstPort), u.Length
			}
			if t, ok := l.(*layers.TCP); ok {
				v.sport, v.dport = uint16(t.SrcPort), uint16(t.DstPort)
			}
		case *layers.GTPv1U:
			v.gtp = true
		default:
			if p, ok := ipProtocolOf(l); ok {
				v.proto = p
				v.l4 = l.(interface{ LayerPayload() []byte }).LayerPayload()
			}
		}
	}
	if f.err != nil && (f.errAt == layers.LayerTypeIPv4 || f.errAt == layers.LayerTypeIPv6) {
		// gopacket rejected an IP header (after the last one it decoded).
		v.ipHeaderOK = false
	}
	if v.ip && v.transport == nil {
		v.transportErr = v.decodeTransport()
	}
	return v
}

// decodeTransport decodes the transport header with gopacket where the
// walk above stopped before it: at a fragment (gopacket hands fragments
// over as a payload; NFStream reads the first fragment's transport header)
// or at an error.
func (v *gpView) decodeTransport() error {
	var l interface {
		gopacket.Layer
		DecodeFromBytes([]byte, gopacket.DecodeFeedback) error
	}
	switch v.proto {
	case protoTCP:
		l = &layers.TCP{}
	case protoUDP:
		l = &layers.UDP{}
	case protoICMP:
		l = &layers.ICMPv4{}
	case protoICMPv6:
		l = &layers.ICMPv6{}
	default:
		return nil
	}
	if v.v4Later || v.v6Later {
		return fmt.Errorf("not the first fragment")
	}
	if err := l.DecodeFromBytes(v.l4, gopacket.NilDecodeFeedback); err != nil {
		return err
	}
	v.transport = l
	switch l := l.(type) {
	case *layers.TCP:
		v.sport, v.dport = uint16(l.SrcPort), uint16(l.DstPort)
	case *layers.UDP:
		v.sport, v.dport, v.udpLen = uint16(l.SrcPort), uint16(l.DstPort), l.Length
	}
	return nil
}

// want is the Packet the decoder should report by gopacket's reading: the
// fields compared, with NFStream's size definitions.
func (v *gpView) want() Packet {
	var p Packet
	p.IPVersion = v.version
	p.SrcIP, p.DstIP = v.src, v.dst
	p.Protocol = v.proto
	p.VlanID = v.vlan
	// NFStream's ip_size: the IPv4 total length, or the IPv6 payload
	// length (the 40-byte header not counted).
	p.IPSize = v.ipSize
	l4 := uint16(len(v.l4))
	switch t := v.transport.(type) {
	case *layers.TCP:
		p.SrcPort, p.DstPort = v.sport, v.dport
		p.TransportSize = l4
		p.PayloadSize = uint16(len(t.Payload))
	case *layers.UDP:
		p.SrcPort, p.DstPort = v.sport, v.dport
		p.TransportSize = l4
		p.PayloadSize = uint16(len(t.Payload))
	case *layers.ICMPv4, *layers.ICMPv6:
		// NFStream takes 8 bytes of ICMP header for both versions
		// (gopacket's ICMPv6 layer is 4 bytes, the rest its message).
		p.TransportSize = l4
		if l4 > 8 {
			p.PayloadSize = l4 - 8
		}
	}
	return p
}

// A field the oracle compares.
type oracleField int

const (
	fVersion oracleField = iota
	fAddrs
	fProto
	fPorts
	fVlan
	fIPSize
	fTransportSize
	fPayloadSize
	nFields
)

var fieldNames = [nFields]string{"ip_version", "addresses", "protocol", "ports", "vlan_id", "ip_size", "transport_size", "payload_size"}

func diffPackets(got, want *Packet, skip [nFields]bool) []string {
	var d []string
	add := func(f oracleField, g, w any) {
		if !skip[f] {
			d = append(d, fmt.Sprintf("%s: decode %v, gopacket %v", fieldNames[f], g, w))
		}
	}
	if got.IPVersion != want.IPVersion {
		add(fVersion, got.IPVersion, want.IPVersion)
	}
	if got.SrcIP != want.SrcIP || got.DstIP != want.DstIP {
		add(fAddrs, fmt.Sprintf("%x>%x", got.SrcIP, got.DstIP), fmt.Sprintf("%x>%x", want.SrcIP, want.DstIP))
	}
	if got.Protocol != want.Protocol {
		add(fProto, got.Protocol, want.Protocol)
	}
	if got.SrcPort != want.SrcPort || got.DstPort != want.DstPort {
		add(fPorts, fmt.Sprintf("%d>%d", got.SrcPort, got.DstPort), fmt.Sprintf("%d>%d", want.SrcPort, want.DstPort))
	}
	if got.VlanID != want.VlanID {
		add(fVlan, got.VlanID, want.VlanID)
	}
	if got.IPSize != want.IPSize {
		add(fIPSize, got.IPSize, want.IPSize)
	}
	if got.TransportSize != want.TransportSize {
		add(fTransportSize, got.TransportSize, want.TransportSize)
	}
	if got.PayloadSize != want.PayloadSize {
		add(fPayloadSize, got.PayloadSize, want.PayloadSize)
	}
	return d
}

// oracleCase is one record with both decodings.
type oracleCase struct {
	link    capture.LinkType
	data    []byte
	ok      bool // the decoder meters the record
	p       Packet
	f       gpFrame
	v       gpView
	gpKnown bool // gopacket has a decoder for the link type
	// tunnelsOff: p is the decoder's reading with tunnel decoding off.
	tunnelsOff bool
}

// An oracleRule names an NFStream quirk (or a gopacket limit) that makes
// the two decoders differ on a record. A rule either excludes the record
// (skip nil) or only some fields of it (skip lists them; the other fields
// are still compared).
type oracleRule struct {
	name  string
	why   string
	match func(c *oracleCase) bool
	skip  []oracleField
	// tunnelsOff: the record is not excluded but compared as the decoder
	// reads it with tunnel decoding off (the outer headers, where gopacket
	// stops too), by the rules that follow.
	tunnelsOff bool
}

func (c *oracleCase) linkHeaderLen() int {
	switch c.link {
	case capture.LinkEthernet:
		return 14
	case capture.LinkNull, capture.LinkPPPSerial, capture.LinkCHDLC:
		return 4
	case capture.LinkLinuxSLL:
		return 16
	case capture.LinkLinuxSLL2:
		return 20
	case capture.LinkPPP:
		return 2
	}
	return 0
}

// oracleRules are checked in order; the first match decides (a tunnelsOff
// rule hands the record on to the others).
var oracleRules = []oracleRule{
	{
		name:  "no-gopacket-link-decoder",
		why:   "the oracle has no gopacket decoder for the link type (PPI, or one the decoder does not read either)",
		match: func(c *oracleCase) bool { return !c.gpKnown },
	},
	{
		name:  "both-ignore",
		why:   "neither decoder finds an IP packet (ARP, STP, LLDP, IPX, runts...): both drop the record",
		match: func(c *oracleCase) bool { return !c.ok && !c.v.ip },
	},
	{
		name: "ip-version-nibble",
		why: "gopacket decodes an IP header as the link layer's type field (or IPv4's protocol 4/41) says without " +
			"checking its version nibble; NFStream goes by the nibble alone (4 or 6, anything else is ignored)",
		match: func(c *oracleCase) bool { return c.v.badVersion },
	},
	{
		name: "pppoe-discovery",
		why: "gopacket decodes a PPPoE discovery frame (EtherType 0x8863) like a session frame, down to PPP and " +
			"IP; NFStream knows only PPPoE session frames (0x8864)",
		match: func(c *oracleCase) bool { return c.v.pppoeDiscovery },
	},
	{
		name: "qinq-88a8",
		why: "NFStream knows only the 0x8100 VLAN tag; behind an 802.1ad (0x88a8) tag it reads the tag as the IP " +
			"header and ignores the record, while gopacket decodes both tags",
		match: func(c *oracleCase) bool { return c.v.qinq },
	},
	{
		name: "llc-two-byte-control",
		why: "gopacket reads the 2-byte LLC control field of I and S frames (control bits not 11), so the SNAP " +
			"header and the IP header after it start a byte later; NFStream takes LLC and SNAP as a fixed " +
			"8 bytes",
		match: func(c *oracleCase) bool { return c.v.llcLongControl },
	},
	{
		name: "llc-sap-low-bit",
		why: "gopacket masks the I/G and C/R bits (the low bits) of the LLC SAPs, so DSAP/SSAP 0xab read as " +
			"SNAP's 0xaa; NFStream compares the whole bytes with 0xaa (and 0x42 for STP)",
		match: func(c *oracleCase) bool { return c.v.llcSAPBits },
	},
	{
		name: "ppp-protocol-field-compression",
		why: "gopacket reads a 1-byte PPP protocol field (RFC 1661 protocol field compression, an odd first " +
			"byte); NFStream takes the PPP protocol as 2 bytes always (PPPoE, PPP links), so the IP header it " +
			"reads starts a byte later",
		match: func(c *oracleCase) bool { return c.v.pppShortProto },
	},
	{
		name: "udp-header-not-captured",
		why: "with tunnel decoding on NFStream looks at the UDP ports for a tunnel before anything else and " +
			"ignores a UDP packet whose 8-byte header is not captured in full; without tunnels it meters it",
		match: func(c *oracleCase) bool {
			var p Packet
			return !c.ok && !c.tunnelsOff && c.v.proto == protoUDP && len(c.v.l4) < udpHeaderLen &&
				(&Decoder{}).Decode(c.link, c.data, uint32(len(c.data)), &p)
		},
	},
	{
		name: "tunnel-inner-not-ip",
		why: "on a UDP tunnel port (GTP-U 2152, CAPWAP 5247, TZSP 37008) NFStream commits to the decapsulation " +
			"and drops the record when what the tunnel carries is no IP packet (CAPWAP's 802.11 management " +
			"frames, GTP signalling); gopacket meters the outer UDP, as the decoder does without tunnels: " +
			"compared with tunnel decoding off",
		match: func(c *oracleCase) bool {
			u, udp := c.v.transport.(*layers.UDP)
			return !c.ok && udp && (tunnelPort(uint16(u.SrcPort)) || tunnelPort(uint16(u.DstPort)))
		},
		tunnelsOff: true,
	},
	{
		name: "gtp-not-decapsulated",
		why: "gopacket decodes a GTP-U T-PDU that NFStream leaves encapsulated: NFStream reads the IPv4 " +
			"protocol (and so finds the GTP-U port) only when the link layer's type field says IPv4 (0x0800), " +
			"not behind a little-endian BSD null header, PPP or LLC/SNAP; and the GTP header checks differ (see " +
			"gtp-decapsulated-by-decode-only)",
		match: func(c *oracleCase) bool { return c.ok && c.p.TunnelID == TunnelNone && c.v.gtp },
	},
	{
		name: "gtp-decapsulated-by-decode-only",
		why: "NFStream decapsulates GTP-U when either UDP port is 2152 and the header has version 1 and type " +
			"255; gopacket picks the layer after UDP by the destination port first (2123 is GTPv2-C, other known " +
			"ports win too) and checks the GTP message length against the bytes there, so it stops at the " +
			"outer UDP: compared with tunnel decoding off",
		match:      func(c *oracleCase) bool { return c.ok && c.p.TunnelID == TunnelGTP && !c.v.gtp },
		tunnelsOff: true,
	},
	{
		name: "tunnel-capwap-tzsp",
		why: "NFStream decapsulates CAPWAP data and TZSP (tunnel_id 2 and 3); gopacket has no decoder for either, " +
			"so its last IP header is the outer one: compared with tunnel decoding off",
		match:      func(c *oracleCase) bool { return c.ok && (c.p.TunnelID == TunnelCAPWAP || c.p.TunnelID == TunnelTZSP) },
		tunnelsOff: true,
	},
	{
		name: "ppp-address-control",
		why: "NFStream's DLT_PPP handling knows Cisco HDLC framing (0x0f/0x8f) and a bare 2-byte protocol; a PPP " +
			"frame starting with the ff 03 address and control bytes puts the protocol where it looks for the IP " +
			"header, and the record is ignored",
		match: func(c *oracleCase) bool {
			return !c.ok && c.link == capture.LinkPPP && len(c.data) > 1 && c.data[0] == 0xff && c.data[1] == 0x03
		},
	},
	{
		name: "radiotap-fixed-flags-offset",
		why: "NFStream reads the radiotap flags at a fixed offset (16) whatever fields the header has, and ignores " +
			"the record when the bad-FCS bits (0x50) are set there",
		match: func(c *oracleCase) bool {
			return !c.ok && c.link == capture.LinkRadiotap && len(c.data) > 16 && c.data[16]&radiotapBadFCS == radiotapBadFCS
		},
	},
	{
		name: "encapsulation-gopacket-only",
		why: "gopacket goes on into encapsulations NFStream does not decode (GRE, EtherIP, VXLAN, Geneve, IPsec " +
			"AH, MPLS in IP, IP protocol 94) and finds another IP header there; NFStream decapsulates only IP " +
			"protocols 4 and 41 and its three UDP tunnels, and meters the outer header",
		match: func(c *oracleCase) bool { return c.ok && c.v.encap && c.v.ipLayers > 1 },
	},
	{
		name: "ipv4-later-fragment-ignored",
		why: "NFStream ignores IPv4 fragments with a non-zero offset (no transport header); gopacket decodes the IP " +
			"header and hands the rest over as a fragment",
		match: func(c *oracleCase) bool { return !c.ok && c.v.v4Later },
	},
	{
		name: "ipv4-later-fragment-metered",
		why: "NFStream reads the fragment offset only when the link layer's type field says IPv4 (0x0800): behind " +
			"a little-endian BSD null header, PPP, C-HDLC, LLC/SNAP (byte-swapped type) or an IPv6 outer header " +
			"it meters a later fragment and takes its first bytes as the transport header",
		match: func(c *oracleCase) bool { return c.ok && c.v.v4Later },
	},
	{
		name: "ipv6-later-fragment-ignored",
		why:  "nDPI's extension-header walk drops IPv6 fragments with a non-zero offset",
		match: func(c *oracleCase) bool {
			return !c.ok && c.v.v6Later
		},
	},
	{
		name: "ipip-inner-not-decoded-by-gopacket",
		why: "gopacket's last IP header says IP-in-IP (protocol 4 or 41) but it decodes no inner header (the " +
			"outer length leaves no room for one, or it rejects it); NFStream goes to the inner header by the " +
			"captured length, before looking at anything else, and meters it or ignores the record when it is " +
			"not there in full",
		match: func(c *oracleCase) bool { return c.v.proto == protoIPIP || c.v.proto == protoIPv6 },
	},
	{
		name: "ipv6-mobility-header",
		why: "nDPI's extension-header walk steps over the Mobility header (135) like the others (and drops the " +
			"record when its length runs past the packet); gopacket does not know that header and stops there",
		match: func(c *oracleCase) bool { return c.v.version == 6 && c.v.proto == 135 },
	},
	{
		name: "ipv6-ext-chain-past-payload",
		why: "gopacket's last IPv6 header is followed by an extension header chain that names one more " +
			"extension header after the payload length is used up (or one gopacket rejects); nDPI's walk goes on " +
			"while captured bytes are left, past the payload length into the frame's trailer, and drops the " +
			"record or takes what it finds there",
		match: func(c *oracleCase) bool {
			switch c.v.proto {
			case 0, 43, 44, 60:
				return c.v.version == 6
			}
			return false
		},
	},
	{
		name: "ipv6-payload-not-captured",
		why: "NFStream ignores an IPv6 packet whose payload length runs past the captured bytes (snaplen); " +
			"gopacket decodes it as truncated",
		match: func(c *oracleCase) bool {
			return !c.ok && c.v.v6Short
		},
	},
	{
		name: "short-record",
		why: "NFStream's datalink checker ignores records shorter than the link header plus 28 bytes (a minimal " +
			"IPv4 and UDP header), even when they hold a complete IP packet",
		match: func(c *oracleCase) bool { return !c.ok && len(c.data) < c.linkHeaderLen()+28 },
	},
	{
		name: "ipv6-no-next-header",
		why:  "nDPI drops IPv6 packets whose extension-header chain ends in No Next Header (59)",
		match: func(c *oracleCase) bool {
			return !c.ok && c.v.version == 6 && c.v.proto == 59
		},
	},
	{
		name: "ipv4-zero-total-length",
		why: "an IPv4 header (outer or inner) with a total length of 0 (TCP segmentation offload): NFStream's " +
			"length check fails on it and the record is ignored, or the sizes wrap; gopacket takes the captured " +
			"length instead",
		match: func(c *oracleCase) bool { return c.v.v4ZeroLen },
	},
	{
		name: "gopacket-rejects-ip-header",
		why: "gopacket rejects the (last) IP header (IHL < 5, total length below the header, bad options); " +
			"NFStream reads the fixed fields regardless",
		match: func(c *oracleCase) bool { return c.v.ip && !c.v.ipHeaderOK },
	},
	{
		name: "gopacket-rejects-sll-header",
		why: "gopacket rejects a Linux cooked header whose link-layer address length is above 8 (anonymised " +
			"records); NFStream reads the protocol at its fixed offset regardless",
		match: func(c *oracleCase) bool {
			return c.ok && c.link == capture.LinkLinuxSLL && c.f.err != nil && c.f.errAt == layers.LayerTypeLinuxSLL
		},
	},
	{
		name: "ip-where-gopacket-finds-none",
		why: "NFStream does not check the link layer's type field: it takes whatever follows the link header as " +
			"IP when its first nibble is 4 or 6; gopacket goes by the type field (or rejects the only IP header)",
		match: func(c *oracleCase) bool { return c.ok && !c.v.ip },
	},
	{
		name: "gopacket-rejects-transport-header",
		why: "gopacket rejects the transport header: a TCP data offset below 5, a first fragment that ends " +
			"inside the TCP header (NFStream then reports no ports and sizes 0), an ICMP header under 8 bytes; " +
			"NFStream reads what it can regardless; the IP fields are compared",
		match: func(c *oracleCase) bool {
			return c.ok && c.v.transport == nil && c.v.transportErr != nil && !c.v.ipShort
		},
		skip: []oracleField{fPorts, fTransportSize, fPayloadSize},
	},
	{
		name: "transport-header-not-captured",
		why: "the IP length says a TCP/UDP/ICMP header is there but the capture ends before it: NFStream reads " +
			"past the captured bytes (the decoder reads zeros there), gopacket cannot decode the header; the " +
			"addresses, protocol, VLAN and IP size are still compared",
		match: func(c *oracleCase) bool {
			return c.ok && c.v.transport == nil && c.v.transportErr != nil && c.v.ipShort
		},
		skip: []oracleField{fPorts, fTransportSize, fPayloadSize},
	},
	{
		name: "truncated-sizes",
		why: "the capture ends before the IP length does (snaplen): NFStream's transport and payload sizes come " +
			"from the IP length, gopacket's from the captured bytes; the other fields are compared",
		match: func(c *oracleCase) bool { return c.ok && c.v.ipShort },
		skip:  []oracleField{fTransportSize, fPayloadSize},
	},
	{
		name: "udp-length-field",
		why: "NFStream's UDP payload size is the IP payload less 8 bytes; gopacket bounds the payload by the UDP " +
			"length field, which here says otherwise; the other fields are compared",
		match: func(c *oracleCase) bool {
			_, udp := c.v.transport.(*layers.UDP)
			return c.ok && udp && int(c.v.udpLen) != len(c.v.l4)
		},
		skip: []oracleField{fPayloadSize},
	},
}

// debugRule, from $ORACLE_DEBUG_RULE, prints the records a rule matches.
var debugRule = os.Getenv("ORACLE_DEBUG_RULE")

func tunnelPort(p uint16) bool { return p == portGTPU || p == portCAPWAPData || p == portTZSP }

// oracleStats counts records per outcome.
type oracleStats struct {
	compared   int
	partial    map[string]int
	excluded   map[string]int
	tunnelsOff map[string]int
}

func newOracleStats() *oracleStats {
	return &oracleStats{partial: map[string]int{}, excluded: map[string]int{}, tunnelsOff: map[string]int{}}
}

// examine decodes one record with both decoders.
func (o *oracle) examine(link capture.LinkType, data []byte, d *Decoder) *oracleCase {
	c := &oracleCase{link: link, data: data}
	c.ok = d.Decode(link, data, uint32(len(data)), &c.p)
	c.f, c.gpKnown = o.decode(link, data)
	c.v = c.f.view()
	return c
}

// compare returns the differences no rule explains, and the rule that
// applied, counting the record in st (when not nil).
func (c *oracleCase) compare(st *oracleStats) (diffs []string, rule string) {
	var skip [nFields]bool
	for _, r := range oracleRules {
		if r.tunnelsOff && c.tunnelsOff || !r.match(c) {
			continue
		}
		if debugRule != "" && r.name == debugRule {
			fmt.Printf("rule %s: link %d ok %v via %s err %v at %v: %x\n", r.name, c.link, c.ok, c.f.via, c.f.err, c.f.errAt, c.data)
		}
		if r.tunnelsOff {
			// The record is compared again as the decoder sees it with
			// tunnel decoding off, by the other rules.
			if st != nil {
				st.tunnelsOff[r.name]++
			}
			off := *c
			off.tunnelsOff = true
			off.ok = (&Decoder{}).Decode(c.link, c.data, uint32(len(c.data)), &off.p)
			diffs, rule := off.compare(st)
			return diffs, r.name + "," + rule
		}
		if r.skip == nil {
			if st != nil {
				st.excluded[r.name]++
			}
			return nil, r.name
		}
		for _, f := range r.skip {
			skip[f] = true
		}
		rule = r.name
		break
	}
	if st != nil {
		st.compared++
		if rule != "" {
			st.partial[rule]++
		}
	}
	if !c.ok {
		return []string{fmt.Sprintf("decode ignores the record; gopacket (%s) finds IPv%d %s (%v)",
			c.f.via, c.v.version, layers.IPProtocol(c.v.proto), c.f.err)}, rule
	}
	want := c.v.want()
	return diffPackets(&c.p, &want, skip), rule
}

// log reports the counts, rule by rule in the order of oracleRules, and
// with -v the reason of every rule that applied.
func (st *oracleStats) log(t *testing.T, what string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d records compared", what, st.compared)
	total := 0
	for _, r := range oracleRules {
		n, how := st.excluded[r.name], "excluded"
		switch {
		case r.tunnelsOff:
			n, how = st.tunnelsOff[r.name], "compared with tunnel decoding off (the other rules apply)"
		case r.skip != nil:
			n, how = st.partial[r.name], "compared without some fields"
		default:
			total += n
		}
		if n == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n  %-36s %6d %s", r.name+":", n, how)
		if testing.Verbose() {
			fmt.Fprintf(&b, "\n      (%s)", r.why)
		}
	}
	fmt.Fprintf(&b, "\n  excluded in all: %d", total)
	t.Log(b.String())
}

// oracleFile checks every record of one capture, reporting at most a few
// disagreements.
func oracleFile(t *testing.T, o *oracle, st *oracleStats, path string) {
	t.Helper()
	src, err := capture.Open(path)
	if err != nil {
		t.Logf("%s: not read: %v", filepath.Base(path), err)
		return
	}
	defer src.Close()
	d := Decoder{Options{DecodeTunnels: true}}
	var pkt capture.Packet
	reported := 0
	for i := 0; ; i++ {
		if err := src.Next(&pkt); err != nil {
			break
		}
		diffs, rule := o.examine(pkt.LinkType, pkt.Data, &d).compare(st)
		if len(diffs) == 0 {
			continue
		}
		if reported++; reported <= 5 {
			t.Errorf("%s record %d (link type %d, %d bytes captured, rule %q): %s\n%x",
				filepath.Base(path), i, pkt.LinkType, len(pkt.Data), rule, strings.Join(diffs, "; "), pkt.Data)
		}
	}
	if reported > 5 {
		t.Errorf("%s: %d records disagree in all", filepath.Base(path), reported)
	}
}

// TestGopacketOracleCorpus decodes every record of NFStream's corpus with
// both decoders.
func TestGopacketOracleCorpus(t *testing.T) {
	dir := filepath.Join(corpus.Dir(t), "pcaps")
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	o := newOracle()
	st := newOracleStats()
	for _, e := range files {
		oracleFile(t, o, st, filepath.Join(dir, e.Name()))
	}
	st.log(t, fmt.Sprintf("NFStream corpus (%d files)", len(files)))
	if st.compared == 0 {
		t.Error("no record compared")
	}
}

// TestGopacketOracleTestdata does the same for the captures in testdata/.
func TestGopacketOracleTestdata(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus.RepoRoot(t), "testdata", "*.pcap*"))
	if len(files) == 0 {
		t.Fatal("no captures in testdata/")
	}
	o := newOracle()
	st := newOracleStats()
	for _, name := range files {
		oracleFile(t, o, st, name)
	}
	st.log(t, fmt.Sprintf("testdata (%d files)", len(files)))
	if st.compared == 0 {
		t.Error("no record compared")
	}
}

// FuzzGopacketOracle compares the decoder with gopacket on arbitrary
// Ethernet frames, where gopacket decodes the frame without error and no
// rule excludes it (a rule that leaves out some fields still has the
// others compared).
func FuzzGopacketOracle(f *testing.F) {
	for _, s := range []string{vlanSYN, ipv6HopByHop, ipv6LaterFragment, gtpICMP} {
		f.Add(frameHex(f, s))
	}
	testdataRecords(func(link capture.LinkType, data []byte) {
		if link == capture.LinkEthernet {
			f.Add(data)
		}
	})
	o := newOracle()
	d := Decoder{Options{DecodeTunnels: true}}
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		c := o.examine(capture.LinkEthernet, data, &d)
		if !bytes.Equal(data, orig) {
			t.Fatal("a decoder wrote to the record")
		}
		if c.f.err != nil {
			// gopacket does not decode the frame down to its transport
			// header. (Records cut short are compared: the rules for
			// them leave out the sizes.)
			return
		}
		if diffs, rule := c.compare(nil); len(diffs) > 0 {
			t.Fatalf("rule %q: %s\n%x", rule, strings.Join(diffs, "; "), data)
		}
	})
}

// TestGopacketOracleDetects checks the comparison itself: a record both
// decoders agree on passes, and a field changed in the decoder's Packet is
// reported.
func TestGopacketOracleDetects(t *testing.T) {
	o := newOracle()
	d := Decoder{Options{DecodeTunnels: true}}
	for _, s := range []string{vlanSYN, ipv6HopByHop, gtpICMP} {
		data := frameHex(t, s)
		c := o.examine(capture.LinkEthernet, data, &d)
		if diffs, rule := c.compare(nil); len(diffs) > 0 || rule != "" {
			t.Fatalf("rule %q, differences %q", rule, diffs)
		}
		for f, change := range map[string]func(p *Packet){
			"ports":          func(p *Packet) { p.DstPort++ },
			"addresses":      func(p *Packet) { p.SrcIP[3]++ },
			"protocol":       func(p *Packet) { p.Protocol++ },
			"vlan_id":        func(p *Packet) { p.VlanID++ },
			"ip_size":        func(p *Packet) { p.IPSize++ },
			"transport_size": func(p *Packet) { p.TransportSize++ },
			"payload_size":   func(p *Packet) { p.PayloadSize++ },
			"ip_version":     func(p *Packet) { p.IPVersion ^= 2 },
		} {
			c := o.examine(capture.LinkEthernet, data, &d)
			change(&c.p)
			diffs, _ := c.compare(nil)
			if len(diffs) != 1 || !strings.HasPrefix(diffs[0], f+":") {
				t.Errorf("%s changed: differences %q", f, diffs)
			}
		}
	}
}
