package decode

import (
	"encoding/binary"

	"github.com/nfstream-go/nfstream/internal/capture"
)

// Tunnel identifiers, as nDPI's ndpi_packet_tunnel numbers them.
const (
	TunnelNone   uint8 = 0
	TunnelGTP    uint8 = 1
	TunnelCAPWAP uint8 = 2
	TunnelTZSP   uint8 = 3
)

// TCP flag bits as they appear in the TCP header's flags byte.
const (
	FlagFIN uint8 = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// Packet is the decoded view of one record. The decoder overwrites every
// field on each call, so one Packet can be reused for a whole capture.
type Packet struct {
	// SrcIP and DstIP hold the addresses; an IPv4 address uses the first
	// four bytes and leaves the rest zero.
	SrcIP, DstIP     [16]byte
	SrcMAC, DstMAC   [6]byte
	SrcPort, DstPort uint16
	VlanID           uint16
	Protocol         uint8
	IPVersion        uint8
	TunnelID         uint8
	// Flags holds the TCP flag bits (FlagFIN...FlagCWR); 0 for other
	// protocols.
	Flags uint8
	// The four packet sizes of NFStream's accounting modes. Like NFStream's
	// uint16 fields they wrap above 65535.
	RawSize, IPSize, TransportSize, PayloadSize uint16
	// IPContent is the captured bytes from the (inner) IP header to the end
	// of the record: what NFStream hands to nDPI.
	IPContent []byte
	// Hash is NFStream's direction-symmetric meter hash (32-bit sum of
	// protocol, VLAN, address words, ports and tunnel id).
	Hash uint32
}

// Options select optional decoding behaviour.
type Options struct {
	// DecodeTunnels enables GTP-U, CAPWAP and TZSP decapsulation (NFStream's
	// decode_tunnels, on by default).
	DecodeTunnels bool
}

// Decoder decodes records. The zero value decodes with tunnels off; it holds
// no per-packet state.
type Decoder struct {
	Options
}

const (
	etherTypeIPv4   = 0x0800
	etherTypeIPv6   = 0x86dd
	etherTypeVLAN   = 0x8100
	etherTypeMPLSU  = 0x8847
	etherTypeMPLSM  = 0x8848
	etherTypePPPoE  = 0x8864
	llcSNAP         = 0xaa
	llcSTP          = 0x42
	portGTPU        = 2152
	portCAPWAPData  = 5247
	portTZSP        = 37008
	protoIPIP       = 4
	protoIPv6       = 41
	protoTCP        = 6
	protoUDP        = 17
	protoICMP       = 1
	protoICMPv6     = 58
	radiotapBadFCS  = 0x50
	wifiHeaderLen   = 24 // struct ndpi_wifi_header
	llcSNAPLen      = 8  // struct ndpi_llc_header_snap
	ipv4HeaderLen   = 20
	ipv6HeaderLen   = 40
	udpHeaderLen    = 8
	tcpHeaderLen    = 20
	linkPPI         = 192
	linkIEEE80211   = 105
	linkSLL2HdrSize = 20
)

// frame is the captured record with zero-extension past its end, mirroring
// reads the C engine makes without a bounds check.
type frame []byte

func (b frame) u8(off int) uint8 {
	if off < 0 || off >= len(b) {
		return 0
	}
	return b[off]
}

func (b frame) be16(off int) uint16 { return uint16(b.u8(off))<<8 | uint16(b.u8(off+1)) }

func (b frame) be32(off int) uint32 { return uint32(b.be16(off))<<16 | uint32(b.be16(off+2)) }

// le32 loads four bytes as a little-endian host would load a network-order
// address word (NFStream's saddr/daddr arithmetic).
func (b frame) le32(off int) uint32 {
	return uint32(b.u8(off)) | uint32(b.u8(off+1))<<8 | uint32(b.u8(off+2))<<16 | uint32(b.u8(off+3))<<24
}

// state is the parser's working set, the locals of NFStream's packet_process.
type state struct {
	pkt        frame
	caplen     int
	ethOffset  int
	ipOffset   int
	typ        uint16
	vlanID     uint16
	ipLen      uint16
	fragOff    uint16
	proto      uint8
	pyldEthLen int
	tunnel     uint8
}

// Decode parses one record of the given link type into p. It reports false
// when NFStream would ignore the record (counted as ignored, not metered).
func (d *Decoder) Decode(link capture.LinkType, data []byte, wireLen uint32, p *Packet) bool {
	if link == capture.LinkEthernet {
		if ok, done := d.ethernetIPv4(data, wireLen, p); done {
			return ok
		}
	}
	return d.decode(link, data, wireLen, p)
}

// ethernetIPv4 decodes the most common record, an untagged Ethernet frame
// carrying IPv4 that is neither IP-in-IP nor a tunnel, by the steps the
// general path takes for it, without its link-layer and encapsulation
// checks. done is false for any other record (the general path decodes
// it). FuzzFastPath checks that both paths agree on every record.
func (d *Decoder) ethernetIPv4(data []byte, wireLen uint32, p *Packet) (ok, done bool) {
	const iph = 14
	if len(data) < iph+ipv4HeaderLen || binary.BigEndian.Uint16(data[12:14]) != etherTypeIPv4 || data[iph]>>4 != 4 {
		return false, false
	}
	proto := data[iph+9]
	if proto == protoIPv6 || proto == protoIPIP {
		return false, false
	}
	if binary.BigEndian.Uint16(data[iph+6:iph+8])&0x1fff != 0 {
		return false, true // a later fragment: ignored
	}
	if d.DecodeTunnels && proto == protoUDP {
		udp := iph + int(data[iph]&0x0f)*4
		if len(data) < udp+udpHeaderLen {
			return false, true
		}
		for _, port := range [2]uint16{binary.BigEndian.Uint16(data[udp : udp+2]), binary.BigEndian.Uint16(data[udp+2 : udp+4])} {
			if port == portGTPU || port == portTZSP || port == portCAPWAPData {
				return false, false
			}
		}
	}
	copy(p.DstMAC[:], data[0:6])
	copy(p.SrcMAC[:], data[6:12])
	p.RawSize = uint16(wireLen)
	p.TunnelID = 0
	p.VlanID = 0
	s := state{pkt: data, caplen: len(data)}
	return s.ipv4(iph, uint16(len(data)-iph), p), true
}

// decode is the general path of Decode: NFStream's packet_process.
func (d *Decoder) decode(link capture.LinkType, data []byte, wireLen uint32, p *Packet) bool {
	s := state{pkt: data, caplen: len(data)}
	p.SrcMAC = [6]byte{}
	p.DstMAC = [6]byte{}

datalinkCheck:
	if !s.datalink(link, p) {
		return false
	}
	for {
		recheck, ok := s.etherType()
		if !ok {
			return false
		}
		if !recheck {
			break
		}
	}

iphCheck:
	if s.caplen < s.ipOffset+ipv4HeaderLen {
		return false
	}
	var v4, v6 = -1, -1 // offsets of the IPv4 / IPv6 header handed to packet_parse
	iph := s.ipOffset
	if s.typ == etherTypeIPv4 {
		s.fragOff = s.pkt.be16(iph + 6)
		s.proto = s.pkt.u8(iph + 9)
	}
	switch s.pkt.u8(iph) >> 4 {
	case 4:
		s.ipLen = uint16(s.pkt.u8(iph)&0x0f) * 4
		v4 = iph
		if p := s.pkt.u8(iph + 9); p == protoIPv6 || p == protoIPIP {
			s.ipOffset += int(s.ipLen)
			if s.ipLen > 0 {
				goto iphCheck
			}
		}
		if s.fragOff&0x1fff != 0 {
			return false
		}
	case 6:
		if s.caplen < s.ipOffset+ipv6HeaderLen {
			return false
		}
		v6 = iph
		s.proto = s.pkt.u8(iph + 6)
		s.ipLen = s.pkt.be16(iph + 4)
		if s.caplen < s.ipOffset+ipv6HeaderLen+int(s.ipLen) {
			return false
		}
		l4 := iph + ipv6HeaderLen
		ipsize := uint16(s.caplen - s.ipOffset)
		var ok bool
		l4, s.ipLen, s.proto, ok = ipv6ExtensionHeaders(s.pkt, ipsize-ipv6HeaderLen, l4, s.ipLen, s.proto)
		if !ok {
			return false
		}
		if s.proto == protoIPv6 || s.proto == protoIPIP {
			s.ipOffset = l4
			goto iphCheck
		}
	default:
		return false
	}

	if d.DecodeTunnels && s.proto == protoUDP {
		udp := s.ipOffset + int(s.ipLen)
		if s.caplen < udp+udpHeaderLen {
			return false
		}
		sport, dport := s.pkt.be16(udp), s.pkt.be16(udp+2)
		switch {
		case (sport == portGTPU || dport == portGTPU) && udp+udpHeaderLen+8 < s.caplen:
			off, ok := s.gtp(udp + udpHeaderLen)
			if ok {
				s.tunnel = TunnelGTP
				s.ipOffset = off
				switch s.pkt.u8(off) >> 4 {
				case 6:
					v6, v4 = off, -1
					if s.caplen < off+ipv6HeaderLen {
						return false
					}
				case 4:
					v4 = off
					if s.caplen < off+ipv4HeaderLen {
						return false
					}
				default:
					return false
				}
			}
		case sport == portTZSP || dport == portTZSP:
			off := udp + udpHeaderLen
			if s.caplen < off+4 {
				return false
			}
			s.tunnel = TunnelTZSP
			if s.pkt.u8(off) == 1 && s.pkt.u8(off+1) == 0 && s.pkt.be16(off+2) == 1 {
				off += 4
				if off < s.caplen {
					// NFStream consumes the first tag only, then restarts
					// at the link layer on what follows.
					var tagLen int
					switch s.pkt.u8(off) {
					case 0, 1:
						tagLen = 1
					default:
						if off+1 >= s.caplen {
							return false
						}
						tagLen = int(s.pkt.u8(off + 1))
					}
					off += tagLen
					if off >= s.caplen {
						return false
					}
					s.ethOffset = off
					goto datalinkCheck
				}
			}
		case sport == portCAPWAPData || dport == portCAPWAPData:
			off := udp + udpHeaderLen
			if off+1 < s.caplen && s.pkt.u8(off)&0x0f == 0 {
				off += int(s.pkt.u8(off+1)&0xf8) >> 1
				if off+32 < s.caplen {
					copy(p.SrcMAC[:], s.pkt[off+10:off+16])
					copy(p.DstMAC[:], s.pkt[off+16:off+22])
					off += wifiHeaderLen
					s.typ = s.pkt.be16(off + 6)
					s.ipOffset = off + llcSNAPLen
					s.tunnel = TunnelCAPWAP
					goto iphCheck
				}
			}
		}
	}

	p.RawSize = uint16(wireLen)
	p.TunnelID = s.tunnel
	p.VlanID = s.vlanID
	ipsize := uint16(s.caplen - s.ipOffset)
	if v4 >= 0 {
		return s.ipv4(v4, ipsize, p)
	}
	return s.ipv6(v6, ipsize, p)
}

// datalink is NFStream's packet_datalink_checker: find the network-layer
// offset and type for the link type, starting at ethOffset.
func (s *state) datalink(link capture.LinkType, p *Packet) bool {
	e := s.ethOffset
	if s.caplen < e+28 { // 28 = min IP + min UDP
		return false
	}
	switch link {
	case capture.LinkNull:
		if s.pkt.be32(e) == 2 {
			s.typ = etherTypeIPv4
		} else {
			s.typ = etherTypeIPv6
		}
		s.ipOffset = e + 4
	case capture.LinkPPPSerial:
		s.ipOffset = e + 4
		s.typ = s.pkt.be16(e + 2)
	case capture.LinkCHDLC, capture.LinkPPP:
		// NFStream tests the first byte of the whole record, not of the
		// frame at ethOffset.
		if b := s.pkt.u8(0); b == 0x0f || b == 0x8f {
			s.ipOffset = e + 4
			s.typ = s.pkt.be16(e + 2)
		} else {
			s.ipOffset = e + 2
			s.typ = s.pkt.be16(e)
		}
	case capture.LinkIPv4:
		s.typ = etherTypeIPv4
		s.ipOffset = e
	case capture.LinkIPv6:
		s.typ = etherTypeIPv6
		s.ipOffset = e
	case capture.LinkEthernet:
		return s.ethernet(e, p)
	case capture.LinkLinuxSLL:
		s.typ = s.pkt.be16(e + 14)
		s.ipOffset = e + 16
	case capture.LinkRadiotap:
		// NFStream reads the radiotap header as a fixed struct: the flags
		// byte sits at offset 16 whatever fields are present.
		radioLen := int(binary.LittleEndian.Uint16(s.pkt[e+2 : e+4]))
		if s.pkt.u8(e+16)&radiotapBadFCS == radiotapBadFCS {
			return false
		}
		return s.wifi(e+radioLen, p)
	case capture.LinkRaw, capture.LinkRawBSD:
		s.ipOffset = e
		switch s.pkt.u8(e) >> 4 {
		case 4:
			s.typ = etherTypeIPv4
		case 6:
			s.typ = etherTypeIPv6
		}
	case capture.LinkLinuxSLL2:
		// Departure: NFStream ignores SLL2. Protocol type is the first
		// field of the 20-byte header.
		s.typ = s.pkt.be16(e)
		s.ipOffset = e + linkSLL2HdrSize
	case linkPPI:
		// Departure: NFStream ignores PPI. Header: version, flags,
		// length (LE16), inner link type (LE32).
		hdrLen := int(s.pkt.u8(e+2)) | int(s.pkt.u8(e+3))<<8
		inner := binary.LittleEndian.Uint32(s.pkt[e+4 : e+8])
		switch inner {
		case uint32(capture.LinkEthernet):
			if s.caplen < e+hdrLen+28 {
				return false
			}
			return s.ethernet(e+hdrLen, p)
		case linkIEEE80211:
			return s.wifi(e+hdrLen, p)
		default:
			return false
		}
	default:
		return false
	}
	return true
}

// ethernet is packet_dlt_en10mb.
func (s *state) ethernet(e int, p *Packet) bool {
	copy(p.DstMAC[:], s.pkt[e:e+6])
	copy(p.SrcMAC[:], s.pkt[e+6:e+12])
	s.ipOffset = e + 14
	check := int(s.pkt.be16(e + 12))
	if check <= 1500 {
		s.pyldEthLen = check
	} else if check >= 1536 {
		s.typ = uint16(check)
	}
	if s.pyldEthLen != 0 {
		dsap, ssap := s.pkt.u8(s.ipOffset), s.pkt.u8(s.ipOffset+1)
		if dsap == llcSNAP || ssap == llcSNAP {
			// NFStream copies the SNAP protocol id without byte swapping.
			s.typ = uint16(s.pkt.u8(s.ipOffset+6)) | uint16(s.pkt.u8(s.ipOffset+7))<<8
			s.ipOffset += 8
		} else if dsap == llcSTP || ssap == llcSTP {
			return false
		}
	}
	return true
}

// wifi is the 802.11 part of packet_dlt_radiotap, with the 802.11 header at
// off. Only data frames are decoded; the header is assumed to be 26 bytes
// when exactly one of ToDS/FromDS is set, and 0 otherwise (NFStream's quirk).
func (s *state) wifi(off int, p *Packet) bool {
	if s.caplen < off+wifiHeaderLen {
		return false
	}
	fc := binary.LittleEndian.Uint16(s.pkt[off : off+2])
	if (fc>>2)&0x3 != 2 {
		return false
	}
	wifiLen := 0
	toDS, fromDS := fc&0x0100 != 0, fc&0x0200 != 0
	if toDS != fromDS {
		wifiLen = 26
	}
	copy(p.SrcMAC[:], s.pkt[off+10:off+16])
	copy(p.DstMAC[:], s.pkt[off+16:off+22])
	if s.caplen < off+wifiLen+llcSNAPLen {
		return false
	}
	llc := off + wifiLen
	if s.pkt.u8(llc) == llcSNAP {
		s.typ = s.pkt.be16(llc + 6)
	}
	s.ipOffset = llc + llcSNAPLen
	return true
}

// etherType is packet_ether_type_checker: VLAN tags, MPLS labels and PPPoE.
func (s *state) etherType() (recheck, ok bool) {
	switch s.typ {
	case etherTypeVLAN:
		if s.ipOffset+4 >= s.caplen {
			return false, false
		}
		s.vlanID = s.pkt.be16(s.ipOffset) & 0xfff
		s.typ = s.pkt.be16(s.ipOffset + 2)
		s.ipOffset += 4
		for s.typ == etherTypeVLAN && s.ipOffset+4 < s.caplen {
			s.vlanID = s.pkt.be16(s.ipOffset) & 0xfff
			s.typ = s.pkt.be16(s.ipOffset + 2)
			s.ipOffset += 4
		}
		return true, true
	case etherTypeMPLSU, etherTypeMPLSM:
		if s.ipOffset+4 >= s.caplen {
			return false, false
		}
		label := s.pkt.be32(s.ipOffset)
		s.typ = etherTypeIPv4
		s.ipOffset += 4
		for label&0x100 == 0 && s.ipOffset+4 < s.caplen {
			label = s.pkt.be32(s.ipOffset)
			s.ipOffset += 4
		}
		return true, true
	case etherTypePPPoE:
		s.typ = etherTypeIPv4
		s.ipOffset += 8
		return true, true
	}
	return false, true
}

// gtp validates a GTPv1-U T-PDU header at off and returns the offset of the
// encapsulated packet.
func (s *state) gtp(off int) (int, bool) {
	flags := s.pkt.u8(off)
	if (flags&0xe0)>>5 != 1 || s.pkt.u8(off+1) != 0xff {
		return 0, false
	}
	off += 8
	if flags&0x07 != 0 {
		off += 4
	}
	if flags&0x04 != 0 {
		for off < s.caplen {
			extLen := int(s.pkt.u8(off)) << 2
			off += extLen
			if off >= s.caplen || extLen == 0 {
				return 0, false
			}
			if s.pkt.u8(off-1) == 0 {
				break
			}
		}
	}
	return off, off < s.caplen
}

// ipv6ExtensionHeaders walks IPv6 extension headers as nDPI 4.7-dev's
// ndpi_handle_ipv6_extension_headers does. It reports false for packets
// that must be ignored (no next header, non-first fragments, bad lengths).
func ipv6ExtensionHeaders(b frame, l3len uint16, l4 int, l4len uint16, next uint8) (int, uint16, uint8, bool) {
	for l3len > 1 && (next == 0 || next == 43 || next == 44 || next == 60 || next == 135 || next == 59) {
		if next == 59 {
			return l4, l4len, next, false
		}
		if next == 44 {
			if l4len < 8 || l3len < 5 {
				return l4, l4len, next, false
			}
			l3len -= 5
			next = b.u8(l4)
			if b.be16(l4+2)>>3 != 0 {
				return l4, l4len, next, false
			}
			l4len -= 8
			l4 += 8
			continue
		}
		if l4len < 2 {
			return l4, l4len, next, false
		}
		ehdrLen := uint16(b.u8(l4+1))*8 + 8
		if ehdrLen > l3len {
			return l4, l4len, next, false
		}
		l3len -= ehdrLen
		if l4len < ehdrLen {
			return l4, l4len, next, false
		}
		next = b.u8(l4)
		l4len -= ehdrLen
		l4 += int(ehdrLen)
	}
	return l4, l4len, next, true
}

// ipv4 is packet_get_ip_info for an IPv4 header at off.
func (s *state) ipv4(off int, ipsize uint16, p *Packet) bool {
	if ipsize < ipv4HeaderLen {
		return false
	}
	ihl := uint16(s.pkt.u8(off)&0x0f) * 4
	if ihl > ipsize {
		return false
	}
	totLen := s.pkt.be16(off + 2)
	l4len := totLen - ihl
	if max(int(totLen), int(ipsize)) < int(ihl)+int(l4len) {
		return false
	}
	p.IPVersion = 4
	p.IPSize = totLen
	p.SrcIP = [16]byte{}
	p.DstIP = [16]byte{}
	copy(p.SrcIP[:4], s.pkt[off+12:off+16])
	copy(p.DstIP[:4], s.pkt[off+16:off+20])
	saddr, daddr := s.pkt.le32(off+12), s.pkt.le32(off+16)
	return s.transport(off, off+int(ihl), l4len, s.pkt.u8(off+9), ipsize, saddr, daddr, p)
}

// ipv6 is packet_get_ipv6_info for an IPv6 header at off: NFStream builds a
// fake IPv4 header from it and continues as for IPv4.
func (s *state) ipv6(off int, ipsize uint16, p *Packet) bool {
	if ipsize < ipv6HeaderLen {
		return false
	}
	plen := s.pkt.be16(off + 4)
	if int(ipsize) < ipv6HeaderLen+int(plen) {
		return false
	}
	l4, l4len, next, ok := ipv6ExtensionHeaders(s.pkt, ipsize-ipv6HeaderLen, off+ipv6HeaderLen, plen, s.pkt.u8(off+6))
	if !ok {
		return false
	}
	l4off := uint16(l4 - off)
	if l4off > ipsize {
		return false
	}
	totLen := plen
	if max(int(totLen), int(ipsize)) < int(l4off)+int(l4len) {
		return false
	}
	p.IPVersion = 6
	p.IPSize = totLen
	copy(p.SrcIP[:], s.pkt[off+8:off+24])
	copy(p.DstIP[:], s.pkt[off+24:off+40])
	saddr := s.pkt.le32(off+16) + s.pkt.le32(off+20)
	daddr := s.pkt.le32(off+32) + s.pkt.le32(off+36)
	return s.transport(off, l4, l4len, next, ipsize, saddr, daddr, p)
}

// transport reads the L4 header (packet_get_tcp_info and siblings) and
// fills the remaining fields of p.
func (s *state) transport(ipOff, l4 int, l4len uint16, proto uint8, ipsize uint16, saddr, daddr uint32, p *Packet) bool {
	var sport, dport, dataLen, payload uint16
	var flags uint8
	switch {
	case proto == protoTCP && l4len >= tcpHeaderLen:
		sport, dport = s.pkt.be16(l4), s.pkt.be16(l4+2)
		doff := int(s.pkt.u8(l4+12)>>4) * 4
		payload = uint16(max(0, int(l4len)-doff))
		dataLen = l4len
		flags = s.pkt.u8(l4 + 13)
	case proto == protoUDP && l4len >= udpHeaderLen:
		sport, dport = s.pkt.be16(l4), s.pkt.be16(l4+2)
		if l4len > udpHeaderLen {
			payload = l4len - udpHeaderLen
		}
		dataLen = l4len
	case proto == protoICMP || proto == protoICMPv6:
		if l4len > 8 {
			payload = l4len - 8
		}
		dataLen = l4len
	}
	p.Protocol = proto
	p.SrcPort, p.DstPort = sport, dport
	p.Flags = flags
	p.TransportSize = dataLen
	p.PayloadSize = payload
	end := ipOff + int(ipsize)
	if end > len(s.pkt) {
		end = len(s.pkt)
	}
	p.IPContent = s.pkt[ipOff:end]
	p.Hash = uint32(proto) + uint32(p.VlanID) + saddr + daddr + uint32(sport) + uint32(dport) + uint32(p.TunnelID)
	return true
}

// Supported reports whether the decoder understands link type lt: NFStream's
// link types plus Linux SLL2 and PPI.
func Supported(lt capture.LinkType) bool {
	switch lt {
	case capture.LinkNull, capture.LinkEthernet, capture.LinkPPP, capture.LinkRawBSD, capture.LinkPPPSerial,
		capture.LinkRaw, capture.LinkCHDLC, capture.LinkLinuxSLL, capture.LinkRadiotap, capture.LinkIPv4,
		capture.LinkIPv6, capture.LinkLinuxSLL2, linkPPI:
		return true
	}
	return false
}
