package testgen

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Format is the file format a scenario is written in.
type Format uint8

// File formats.
const (
	// PcapMicro is a little-endian classic pcap with microsecond timestamps.
	PcapMicro Format = iota
	// PcapNano is a little-endian classic pcap with nanosecond timestamps.
	PcapNano
	// PcapBigEndian is a big-endian classic pcap with microsecond timestamps.
	PcapBigEndian
	// PcapNG is a little-endian pcapng file with nanosecond timestamps.
	PcapNG
)

// String names the format as the expected-results files do.
func (f Format) String() string {
	switch f {
	case PcapMicro:
		return "pcap"
	case PcapNano:
		return "pcap-nanosecond"
	case PcapBigEndian:
		return "pcap-big-endian"
	case PcapNG:
		return "pcapng"
	}
	return fmt.Sprintf("format(%d)", f)
}

// Ext is the file name extension for the format.
func (f Format) Ext() string {
	if f == PcapNG {
		return ".pcapng"
	}
	return ".pcap"
}

// Link is how a scenario frames each packet at the link layer. Several Links
// share a LINKTYPE_ number (see LinkType) and differ in the header bytes.
type Link uint8

// Link framings.
const (
	// LinkEthernet is Ethernet II (LINKTYPE_ETHERNET, 1).
	LinkEthernet Link = iota
	// LinkEthernetSNAP is an IEEE 802.3 length field followed by LLC/SNAP
	// carrying the EtherType (LINKTYPE_ETHERNET, 1).
	LinkEthernetSNAP
	// LinkSLL is Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 113).
	LinkSLL
	// LinkSLL2 is Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 276).
	LinkSLL2
	// LinkNullBE is BSD loopback with the address family written
	// big-endian, as a big-endian host writes it (LINKTYPE_NULL, 0).
	LinkNullBE
	// LinkNullLE is BSD loopback with the address family written
	// little-endian, as a little-endian host writes it (LINKTYPE_NULL, 0).
	LinkNullLE
	// LinkPPP is PPP with only the 2-byte protocol field (LINKTYPE_PPP, 9).
	LinkPPP
	// LinkPPPAddrCtrl is PPP in HDLC-like framing: address 0xff and
	// control 0x03 before the protocol field (LINKTYPE_PPP, 9).
	LinkPPPAddrCtrl
	// LinkPPPCiscoHDLC is a Cisco HDLC header in a LINKTYPE_PPP (9) file.
	LinkPPPCiscoHDLC
	// LinkCiscoHDLC is Cisco HDLC (LINKTYPE_C_HDLC, 104).
	LinkCiscoHDLC
	// LinkRaw is raw IPv4 or IPv6 (LINKTYPE_RAW, 101).
	LinkRaw
	// LinkIPv4 is raw IPv4 (LINKTYPE_IPV4, 228).
	LinkIPv4
	// LinkIPv6 is raw IPv6 (LINKTYPE_IPV6, 229).
	LinkIPv6
	// LinkRadiotap is radiotap followed by an 802.11 QoS data frame and
	// LLC/SNAP (LINKTYPE_IEEE802_11_RADIOTAP, 127).
	LinkRadiotap
)

// LinkType is the LINKTYPE_ number written in the file for the framing.
func (l Link) LinkType() int {
	switch l {
	case LinkEthernet, LinkEthernetSNAP:
		return 1
	case LinkSLL:
		return 113
	case LinkSLL2:
		return 276
	case LinkNullBE, LinkNullLE:
		return 0
	case LinkPPP, LinkPPPAddrCtrl, LinkPPPCiscoHDLC:
		return 9
	case LinkCiscoHDLC:
		return 104
	case LinkRaw:
		return 101
	case LinkIPv4:
		return 228
	case LinkIPv6:
		return 229
	case LinkRadiotap:
		return 127
	}
	return -1
}

// hasMACs reports whether NFStream reads MAC addresses for the framing
// (reference 2.7); the others report 00:00:00:00:00:00.
func (l Link) hasMACs() bool {
	switch l {
	case LinkEthernet, LinkEthernetSNAP, LinkRadiotap:
		return true
	}
	return false
}

// IP protocol numbers used by scenarios.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoGRE    uint8 = 47
	ProtoICMPv6 uint8 = 58
	ProtoSCTP   uint8 = 132
)

// Dir says which endpoint of a Flow sends a packet.
type Dir uint8

// Packet directions within a Flow (not NFStream's src2dst/dst2src, which
// the expected flows derive from the first packet seen).
const (
	AtoB Dir = iota
	BtoA
)

// TCPFlags are the bits of the TCP header's flags byte.
type TCPFlags uint8

// TCP flag bits.
const (
	FIN TCPFlags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

// Host is one endpoint of a flow, or of a tunnel.
type Host struct {
	IP  netip.Addr
	MAC net.HardwareAddr
}

// Packet is one packet of a Flow.
type Packet struct {
	// Dir is the sender.
	Dir Dir
	// At is the packet's place in the file, as an offset from the
	// scenario's Start; the file is in At order.
	At time.Duration
	// Skew is added to At for the timestamp written in the file only, so a
	// negative Skew writes a packet older than those before it.
	Skew time.Duration
	// Payload is the number of application bytes after the transport header
	// (for protocols other than TCP, UDP, ICMP and ICMPv6: after the GRE or
	// SCTP header).
	Payload int
	// Flags are the TCP flags (TCP flows only).
	Flags TCPFlags
	// Fragments, if above 1, sends the IP packet as that many fragments.
	Fragments int
	// Interface is the pcapng interface the packet is written on.
	Interface int
	// BadFCS marks a radiotap frame as failing its FCS check.
	BadFCS bool
}

// TunnelKind is the kind of tunnel a Flow's packets travel in.
type TunnelKind uint8

// Tunnel kinds.
const (
	// TunnelIPinIP wraps the flow's IP packet in an outer IPv4 or IPv6
	// header (protocol 4 or 41). NFStream decodes it but reports tunnel_id 0.
	TunnelIPinIP TunnelKind = iota + 1
	// TunnelGTPU is GTP-U over UDP port 2152 (tunnel_id 1).
	TunnelGTPU
	// TunnelCAPWAP is CAPWAP data over UDP port 5247 carrying 802.11
	// frames (tunnel_id 2).
	TunnelCAPWAP
	// TunnelTZSP is TZSP over UDP port 37008 carrying Ethernet frames
	// (tunnel_id 3).
	TunnelTZSP
)

// Tunnel describes the outer packet around a Flow's packets.
type Tunnel struct {
	Kind TunnelKind
	// Side1 and Side2 are the outer endpoints: A's packets go from Side1 to
	// Side2 and B's the other way. For TZSP every packet goes from Side1
	// (the sensor) to Side2 (the collector).
	Side1, Side2 Host
	// Port1 is the outer UDP port of Side1 for CAPWAP (the WTP) and TZSP
	// (the sensor); the other side uses the protocol's port.
	Port1 uint16
	// TEID1 and TEID2 are the GTP-U tunnel ids of packets sent to Side1
	// and to Side2.
	TEID1, TEID2 uint32
	// GTPFlags are the GTP-U E (0x04), S (0x02) and PN (0x01) flags. With E
	// set a PDU session container extension header is added.
	GTPFlags uint8
	// BSSID is the access point's address in CAPWAP 802.11 frames.
	BSSID net.HardwareAddr
}

// Encap is what lies between the link header and a Flow's IP header.
type Encap struct {
	// VLANs are 802.1Q VLAN ids, outermost first (Ethernet only).
	VLANs []uint16
	// MPLS are MPLS labels, outermost first (Ethernet only).
	MPLS []uint32
	// PPPoESession, if not 0, adds a PPPoE session header and PPP
	// protocol field (Ethernet only).
	PPPoESession uint16
	// Tunnel, if set, wraps the packet in an outer packet.
	Tunnel *Tunnel
	// IPv6Options adds a hop-by-hop options header and a destination
	// options header before the transport header (IPv6 flows only).
	IPv6Options bool
}

// Flow is one conversation of a scenario: its endpoints, protocol,
// encapsulation and packets. A and B must be of the same IP version.
type Flow struct {
	A, B         Host
	APort, BPort uint16
	Proto        uint8
	Encap        Encap
	Packets      []Packet
	// Note is copied to the expected flows this Flow's packets make.
	Note string
}

// ExtraKind is a kind of frame that belongs to no Flow.
type ExtraKind uint8

// Frames outside flows. All but ExtraTZSPOtherEncap are ignored by NFStream.
const (
	// ExtraARP is an ARP request (Ethernet or Linux SLL).
	ExtraARP ExtraKind = iota + 1
	// ExtraSTP is an 802.3 spanning tree BPDU (DSAP/SSAP 0x42).
	ExtraSTP
	// ExtraQinQ is an IPv4 packet behind an 802.1ad 0x88a8 tag and an
	// 802.1Q tag.
	ExtraQinQ
	// ExtraPPPoEDiscovery is a PPPoE PADI.
	ExtraPPPoEDiscovery
	// ExtraBeacon is an 802.11 beacon behind radiotap.
	ExtraBeacon
	// ExtraTZSPOtherEncap is a TZSP packet whose encapsulation is not
	// Ethernet: NFStream accounts the outer UDP packet with tunnel_id 3.
	ExtraTZSPOtherEncap
)

// Extra is a frame outside the scenario's flows.
type Extra struct {
	Kind ExtraKind
	At   time.Duration
	// Skew is added to At for the timestamp written (see Packet.Skew).
	Skew time.Duration
	// From and To are the frame's sender and receiver where it has any.
	From, To Host
	// Interface is the pcapng interface the frame is written on.
	Interface int
}

// Scenario describes one capture file.
type Scenario struct {
	// Name is the file name without extension.
	Name string
	// Description says what the capture exercises.
	Description string
	Format      Format
	Link        Link
	// Interfaces is the number of pcapng interfaces (PcapNG only; 0 means 1).
	Interfaces int
	// SnapLen, if not 0, truncates longer frames to that many captured
	// bytes and is written as the file's snapshot length.
	SnapLen int
	// Start is the time packets' At offsets count from.
	Start time.Time
	// Flows and Extras are the file's contents, merged in At order (flows
	// first, then extras, at equal At).
	Flows  []Flow
	Extras []Extra
	// NFStreamYieldsNothing marks a link type NFStream does not decode; the
	// expected flows are then the ones this project's tool reports.
	NFStreamYieldsNothing bool
	// Notes tell the integrator what in the expectation rests on a reading
	// of NFStream that no NFStream output has confirmed yet.
	Notes []string
}

// Validate reports the first inconsistency in s.
func (s *Scenario) Validate() error {
	if s.Name == "" {
		return errors.New("scenario: empty Name")
	}
	if s.Start.IsZero() {
		return fmt.Errorf("scenario %s: zero Start", s.Name)
	}
	if s.Interfaces > 1 && s.Format != PcapNG {
		return fmt.Errorf("scenario %s: Interfaces %d needs PcapNG", s.Name, s.Interfaces)
	}
	nif := max(s.Interfaces, 1)
	for i, f := range s.Flows {
		if f.A.IP.Is4() != f.B.IP.Is4() {
			return fmt.Errorf("scenario %s: flow %d mixes IPv4 and IPv6", s.Name, i)
		}
		e := f.Encap
		if (len(e.VLANs) > 0 || len(e.MPLS) > 0 || e.PPPoESession != 0) && s.Link != LinkEthernet {
			return fmt.Errorf("scenario %s: flow %d: VLAN, MPLS and PPPoE need LinkEthernet", s.Name, i)
		}
		if e.IPv6Options && f.A.IP.Is4() {
			return fmt.Errorf("scenario %s: flow %d: IPv6Options on an IPv4 flow", s.Name, i)
		}
		if (s.Link == LinkIPv4 && !f.A.IP.Is4()) || (s.Link == LinkIPv6 && f.A.IP.Is4()) {
			return fmt.Errorf("scenario %s: flow %d: IP version does not fit the link", s.Name, i)
		}
		if t := e.Tunnel; t != nil && t.Kind != TunnelIPinIP && !t.Side1.IP.Is4() {
			return fmt.Errorf("scenario %s: flow %d: UDP tunnels need an outer IPv4", s.Name, i)
		}
		for j, p := range f.Packets {
			if p.Interface < 0 || p.Interface >= nif {
				return fmt.Errorf("scenario %s: flow %d packet %d: no interface %d", s.Name, i, j, p.Interface)
			}
			if p.Fragments > 1 && f.Proto != ProtoUDP && f.Proto != ProtoICMP && f.Proto != ProtoICMPv6 {
				return fmt.Errorf("scenario %s: flow %d packet %d: only UDP and ICMP packets are fragmented", s.Name, i, j)
			}
			if p.BadFCS && s.Link != LinkRadiotap {
				return fmt.Errorf("scenario %s: flow %d packet %d: BadFCS needs LinkRadiotap", s.Name, i, j)
			}
			if p.Flags != 0 && f.Proto != ProtoTCP {
				return fmt.Errorf("scenario %s: flow %d packet %d: TCP flags on protocol %d", s.Name, i, j, f.Proto)
			}
		}
	}
	return nil
}
