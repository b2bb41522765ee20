package testgen

import (
	"net"
	"net/netip"
	"time"
)

// start is the time every scenario's offsets count from.
var start = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func host(ip, mac string) Host {
	m, err := net.ParseMAC(mac)
	if err != nil {
		panic(err)
	}
	return Host{IP: netip.MustParseAddr(ip), MAC: m}
}

// Endpoints used across scenarios (documentation address ranges).
var (
	client4 = host("192.0.2.10", "00:1b:21:3a:4f:01")
	server4 = host("198.51.100.20", "3c:fd:fe:9e:7b:02")
	dns4    = host("198.51.100.53", "3c:fd:fe:9e:7b:35")
	peer4   = host("203.0.113.7", "a4:bb:6d:10:20:07")
	client6 = host("2001:db8:10::10", "00:1b:21:3a:4f:61")
	server6 = host("2001:db8:20::20", "3c:fd:fe:9e:7b:62")
	dns6    = host("2001:db8:20::53", "3c:fd:fe:9e:7b:63")

	// Tunnel endpoints.
	enb    = host("10.10.0.1", "00:50:56:aa:00:01")
	sgw    = host("10.20.0.1", "00:50:56:bb:00:02")
	wtp    = host("10.30.0.2", "00:0b:85:aa:bb:01")
	ac     = host("10.30.0.1", "00:0b:85:cc:dd:02")
	sensor = host("10.40.0.2", "00:0c:29:12:34:56")
	collec = host("10.40.0.1", "00:0c:29:65:43:21")
	tun4a  = host("172.16.0.1", "00:16:3e:00:00:01")
	tun4b  = host("172.16.0.2", "00:16:3e:00:00:02")
	tun6a  = host("2001:db8:ff::1", "00:16:3e:00:00:61")
	tun6b  = host("2001:db8:ff::2", "00:16:3e:00:00:62")

	// Wireless stations and access point.
	station4 = host("192.168.50.23", "ac:de:48:00:11:22")
	station6 = host("2001:db8:50::23", "ac:de:48:00:11:66")
	bssid    = net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
)

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// tcpSession is a short TCP connection from a to b starting at t0:
// handshake (SYN with options), a request of req bytes, a response of
// resp bytes, and a FIN exchange. Gaps are irregular, with microseconds.
func tcpSession(a, b Host, aport, bport uint16, t0 time.Duration, req, resp int) Flow {
	type step struct {
		d     Dir
		at    float64 // ms after t0
		n     int
		flags TCPFlags
	}
	steps := []step{
		{AtoB, 0, 0, SYN},
		{BtoA, 23.417, 0, SYN | ACK},
		{AtoB, 23.502, 0, ACK},
		{AtoB, 24.101, req, PSH | ACK},
		{BtoA, 61.733, 0, ACK},
		{BtoA, 62.904, resp, PSH | ACK},
		{AtoB, 63.011, 0, ACK},
		{AtoB, 100.209, 0, FIN | ACK},
		{BtoA, 125.4, 0, FIN | ACK},
		{AtoB, 125.533, 0, ACK},
	}
	f := Flow{A: a, B: b, APort: aport, BPort: bport, Proto: ProtoTCP}
	for _, s := range steps {
		f.Packets = append(f.Packets, Packet{Dir: s.d, At: t0 + ms(s.at), Payload: s.n, Flags: s.flags})
	}
	return f
}

// udpExchange is a UDP conversation from a to b: sizes alternate A, B, A...
// with gap between packets.
func udpExchange(a, b Host, aport, bport uint16, t0, gap time.Duration, sizes ...int) Flow {
	f := Flow{A: a, B: b, APort: aport, BPort: bport, Proto: ProtoUDP}
	for i, n := range sizes {
		f.Packets = append(f.Packets, Packet{Dir: Dir(i % 2), At: t0 + time.Duration(i)*gap, Payload: n})
	}
	return f
}

// icmpEcho is n echo requests from a to b, each answered after 9.377 ms,
// one per second; ICMPv6 for IPv6 hosts.
func icmpEcho(a, b Host, t0 time.Duration, n, size int) Flow {
	proto := ProtoICMP
	if !a.IP.Is4() {
		proto = ProtoICMPv6
	}
	f := Flow{A: a, B: b, Proto: proto}
	for i := range n {
		at := t0 + time.Duration(i)*time.Second
		f.Packets = append(f.Packets,
			Packet{Dir: AtoB, At: at, Payload: size},
			Packet{Dir: BtoA, At: at + ms(9.377), Payload: size})
	}
	return f
}

// basicMix is a TCP session, a UDP exchange and an ICMP echo pair from
// client to servers of the same IP version, starting at t0.
func basicMix(v6 bool, t0 time.Duration) []Flow {
	c, s, d := client4, server4, dns4
	if v6 {
		c, s, d = client6, server6, dns6
	}
	return []Flow{
		tcpSession(c, s, 40112, 80, t0, 97, 1187),
		udpExchange(c, d, 53001, 53, t0+ms(10.25), ms(4.6061), 41, 157),
		icmpEcho(c, s, t0+ms(300.5), 2, 56),
	}
}

func withEncap(fs []Flow, e Encap) []Flow {
	out := make([]Flow, len(fs))
	for i, f := range fs {
		f.Encap = e
		out[i] = f
	}
	return out
}

func onInterface(f Flow, pick func(Packet) int) Flow {
	ps := make([]Packet, len(f.Packets))
	for i, p := range f.Packets {
		p.Interface = pick(p)
		ps[i] = p
	}
	f.Packets = ps
	return f
}

func concat(fss ...[]Flow) []Flow {
	var out []Flow
	for _, fs := range fss {
		out = append(out, fs...)
	}
	return out
}

// Catalog returns every scenario, in a fixed order.
func Catalog() []Scenario {
	var cs []Scenario
	add := func(s Scenario) {
		if s.Start.IsZero() {
			s.Start = start
		}
		cs = append(cs, s)
	}
	gre := Flow{A: tun4a, B: tun4b, Proto: ProtoGRE, Packets: []Packet{
		{Dir: AtoB, At: ms(500.001), Payload: 64}, {Dir: BtoA, At: ms(500.9), Payload: 64}}}
	sctp := Flow{A: client6, B: server6, APort: 36412, BPort: 36412, Proto: ProtoSCTP, Packets: []Packet{
		{Dir: AtoB, At: ms(600), Payload: 32}, {Dir: BtoA, At: ms(601.5), Payload: 20}, {Dir: AtoB, At: ms(602.25), Payload: 100}}}

	add(Scenario{Name: "eth_ipv4", Link: LinkEthernet,
		Description: "Ethernet II, IPv4: TCP handshake (SYN options: data offset 8), request, response and FIN both ways; UDP; ICMP echo; GRE (protocol 47: ports 0, transport and payload sizes 0). Short frames carry padding (mode 0 counts it, mode 1 not). An ARP request is ignored.",
		Flows:       append(basicMix(false, ms(0.125)), gre),
		Extras:      []Extra{{Kind: ExtraARP, At: ms(5), From: client4, To: server4}}})
	add(Scenario{Name: "eth_ipv6", Link: LinkEthernet,
		Description: "Ethernet II, IPv6: TCP, UDP, ICMPv6 echo, and SCTP (protocol 132: NFStream reports ports 0 and transport/payload 0). Mode 1 is the IPv6 payload length.",
		Flows:       append(basicMix(true, ms(0.25)), sctp)})

	v100 := withEncap(concat(basicMix(false, 0), basicMix(true, ms(700))), Encap{VLANs: []uint16{100}})
	again := tcpSession(client4, server4, 40112, 80, ms(1500), 97, 1187) // same 5-tuple as in v100
	again.Encap = Encap{VLANs: []uint16{200}}
	again.Note = "same 5-tuple as the VLAN 100 TCP flow: vlan_id is part of the key"
	add(Scenario{Name: "vlan_single", Link: LinkEthernet,
		Description: "802.1Q, one tag: IPv4 and IPv6 flows on VLAN 100 (vlan_id 100); the same TCP 5-tuple on VLAN 200 is a second flow.",
		Flows:       append(v100, again)})
	add(Scenario{Name: "vlan_double", Link: LinkEthernet,
		Description: "Two stacked 802.1Q (0x8100) tags, outer 10 and inner 20: vlan_id 20 (the last tag wins). A frame with an 802.1ad (0x88a8) outer tag is ignored.",
		Flows:       withEncap(basicMix(false, 0), Encap{VLANs: []uint16{10, 20}}),
		Extras:      []Extra{{Kind: ExtraQinQ, At: ms(50), From: client4, To: dns4}}})
	add(Scenario{Name: "mpls", Link: LinkEthernet,
		Description: "Two MPLS labels (16004, then 24017 with bottom of stack) before IPv4 (TCP, UDP, ICMP) and IPv6 (UDP).",
		Flows: withEncap(concat(basicMix(false, 0),
			[]Flow{udpExchange(client6, dns6, 53002, 53, ms(800), ms(3.3), 45, 203)}), Encap{MPLS: []uint32{16004, 24017}})})
	add(Scenario{Name: "pppoe", Link: LinkEthernet,
		Description: "PPPoE session (0x8864, session 0x1d2c) with PPP IPv4 (TCP, UDP, ICMP) and IPv6 (UDP). A PPPoE discovery PADI is ignored.",
		Flows: withEncap(concat(basicMix(false, ms(20)),
			[]Flow{udpExchange(client6, dns6, 53003, 53, ms(800), ms(3.3), 45, 203)}), Encap{PPPoESession: 0x1d2c}),
		Extras: []Extra{{Kind: ExtraPPPoEDiscovery, At: 0, From: client4}}})

	ipip := func(name, desc string, inner6, outer6 bool) {
		o1, o2 := tun4a, tun4b
		if outer6 {
			o1, o2 = tun6a, tun6b
		}
		add(Scenario{Name: name, Link: LinkEthernet, Description: desc,
			Flows: withEncap(basicMix(inner6, 0), Encap{Tunnel: &Tunnel{Kind: TunnelIPinIP, Side1: o1, Side2: o2}})})
	}
	ipip("ipip_4in4", "IPv4 in IPv4 (protocol 4): the inner TCP, UDP and ICMP flows are reported, tunnel_id 0, outer MACs; mode 1 is the inner total length.", false, false)
	ipip("ipip_6in4", "IPv6 in IPv4 (protocol 41): inner IPv6 flows, ip_version 6, tunnel_id 0; mode 1 is the inner IPv6 payload length.", true, false)
	ipip("ipip_4in6", "IPv4 in IPv6 (next header 4): inner IPv4 flows, tunnel_id 0.", false, true)
	ipip("ipip_6in6", "IPv6 in IPv6 (next header 41): inner IPv6 flows, tunnel_id 0.", true, true)

	extTCP := tcpSession(client6, server6, 40200, 443, 0, 517, 1380)
	extTCP.Encap = Encap{IPv6Options: true}
	extUDP := Flow{A: client6, B: dns6, APort: 53010, BPort: 53, Proto: ProtoUDP, Encap: Encap{IPv6Options: true},
		Packets: []Packet{{Dir: AtoB, At: ms(200), Payload: 48}, {Dir: BtoA, At: ms(203.4), Payload: 1800, Fragments: 2}}}
	fragUDP := Flow{A: client6, B: dns6, APort: 53011, BPort: 53, Proto: ProtoUDP,
		Packets: []Packet{{Dir: AtoB, At: ms(300), Payload: 48}, {Dir: BtoA, At: ms(302.7), Payload: 2600, Fragments: 2}}}
	add(Scenario{Name: "ipv6_ext_headers", Link: LinkEthernet,
		Description: "IPv6 extension headers: TCP with hop-by-hop and destination options on every packet (protocol 6; transport size excludes the 16 option bytes, mode 1 includes them); UDP responses sent as two fragments, one behind hop-by-hop + fragment + destination options and one behind a bare fragment header: the first fragment is counted with its ports, the non-first fragment is ignored; ICMPv6 echo.",
		Flows:       []Flow{extTCP, extUDP, fragUDP, icmpEcho(client6, server6, ms(400), 1, 56)},
		Notes:       []string{"Non-first IPv6 fragments ignored and first ones counted: confirmed by corpus dns_fragmented.pcap (bare fragment header). The chain hop-by-hop, fragment, destination options rests on reading nDPI's extension header walk."}})

	fragDNS := Flow{A: client4, B: dns4, APort: 53020, BPort: 53, Proto: ProtoUDP,
		Packets: []Packet{{Dir: AtoB, At: ms(50), Payload: 40}, {Dir: BtoA, At: ms(52.5), Payload: 3200, Fragments: 3}}}
	bigPing := icmpEcho(client4, server4, ms(100), 1, 2972)
	for i := range bigPing.Packets {
		bigPing.Packets[i].Fragments = 2
	}
	add(Scenario{Name: "ipv4_fragments", Link: LinkEthernet,
		Description: "IPv4 fragments: a UDP response in 3 fragments and an ICMP echo pair in 2 fragments each: first fragments are counted (sizes from the fragment's own total length), non-first fragments are ignored; an unfragmented TCP session.",
		Flows:       []Flow{tcpSession(client4, server4, 40300, 80, 0, 120, 800), fragDNS, bigPing}})

	gtp := func(f Flow, flags uint8, note string) Flow {
		f.Encap = Encap{Tunnel: &Tunnel{Kind: TunnelGTPU, Side1: enb, Side2: sgw, TEID1: 0x0a000001, TEID2: 0x5b000002, GTPFlags: flags}}
		f.Note = note
		return f
	}
	ue4 := host("100.64.12.34", "00:00:00:00:00:00")
	ue6 := host("2001:db8:64::1234", "00:00:00:00:00:00")
	add(Scenario{Name: "gtpu", Link: LinkEthernet,
		Description: "GTP-U over UDP 2152 (tunnel_id 1, outer MACs): inner ICMP with the 8-byte header (flags 0x30), inner TCP with the S flag (0x32, 12-byte header), inner UDP with the PN flag (0x31), inner IPv6 UDP with the E flag and a PDU session container extension header (0x34, 16 bytes). Sizes in modes 1-3 are the inner packet's; mode 0 the outer frame.",
		Flows: []Flow{
			gtp(icmpEcho(ue4, server4, 0, 2, 56), 0, ""),
			gtp(tcpSession(ue4, server4, 40400, 443, ms(50), 517, 1300), 0x02, ""),
			gtp(udpExchange(ue4, dns4, 53030, 53, ms(300), ms(20.02), 38, 166), 0x01, ""),
			gtp(udpExchange(ue6, dns6, 53031, 53, ms(400), ms(20.02), 38, 178), 0x04, ""),
		}})

	capwapTun := &Tunnel{Kind: TunnelCAPWAP, Side1: wtp, Side2: ac, Port1: 12223, BSSID: bssid}
	down := udpExchange(server4, station4, 123, 123, ms(500), ms(1.5), 48, 48)
	// The wired host speaks first: its frame comes from the DS, so addr2
	// is the BSSID.
	down.A, down.B = station4, server4
	for i := range down.Packets {
		down.Packets[i].Dir = 1 - down.Packets[i].Dir
	}
	down.Note = "first packet is a FromDS frame: src_mac is its addr2, the BSSID"
	add(Scenario{Name: "capwap", Link: LinkEthernet,
		Description: "CAPWAP data over UDP 5247 (8-byte header, native 802.11 frames, tunnel_id 2): MACs are the 802.11 addr2 (src) and addr3 (dst) of the first packet. Station TCP, UDP and ICMP flows; one flow whose first packet comes from the wired side.",
		Flows:       withEncap(concat(basicMixFrom(station4, 0), []Flow{down}), Encap{Tunnel: capwapTun}),
		Notes:       []string{"CAPWAP MACs: addr2/addr3 of the 802.11 header, per reference 2.7 and corpus capwap.pcap."}})

	tzspTun := &Tunnel{Kind: TunnelTZSP, Side1: sensor, Side2: collec, Port1: 40001}
	add(Scenario{Name: "tzsp", Link: LinkEthernet,
		Description: "TZSP over UDP 37008 (version 1, type received, Ethernet encapsulation, END tag; tunnel_id 3) carrying Ethernet frames: MACs are the inner Ethernet's; every outer packet goes sensor to collector whatever the inner direction.",
		Flows:       withEncap(basicMix(false, 0), Encap{Tunnel: tzspTun})})
	add(Scenario{Name: "tzsp_other_encap", Link: LinkEthernet,
		Description: "TZSP whose encapsulation is 802.11 (18), not Ethernet: NFStream accounts the outer UDP packets as a flow with tunnel_id 3.",
		Extras: []Extra{{Kind: ExtraTZSPOtherEncap, At: 0, From: sensor, To: collec},
			{Kind: ExtraTZSPOtherEncap, At: ms(100.2), From: sensor, To: collec}},
		Notes: []string{"TZSP with a non-Ethernet encapsulation: outer packet accounted with tunnel_id 3, per reference section 4; not confirmed by NFStream output."}})

	add(Scenario{Name: "ethernet_llc_snap", Link: LinkEthernetSNAP,
		Description: "IEEE 802.3 length field with LLC/SNAP (DSAP/SSAP 0xaa, OUI 0) carrying IPv4 (TCP, UDP, ICMP) and IPv6 (UDP). A spanning tree BPDU (DSAP/SSAP 0x42) is ignored.",
		Flows: concat(basicMix(false, ms(10)),
			[]Flow{udpExchange(client6, dns6, 53040, 53, ms(800), ms(3.3), 45, 203)}),
		Extras: []Extra{{Kind: ExtraSTP, At: 0, From: server4}, {Kind: ExtraSTP, At: ms(2000), From: server4}},
		Notes:  []string{"NFStream keeps the SNAP protocol id without byte swapping; the IP version nibble still decides, so plain IPv4 and IPv6 parse. Fragments and tunnels behind LLC/SNAP are left out on purpose: whether their EtherType-gated checks run is not established."}})

	sll := func(name string, l Link, desc string, nothing bool) {
		add(Scenario{Name: name, Link: l, Description: desc, NFStreamYieldsNothing: nothing,
			Flows: concat(basicMix(false, 0),
				[]Flow{udpExchange(client6, dns6, 53050, 53, ms(800), ms(3.3), 45, 203)}),
			Extras: []Extra{{Kind: ExtraARP, At: ms(1), From: client4, To: server4}}})
	}
	sll("linux_sll", LinkSLL, "Linux cooked capture v1 (113): IPv4 TCP, UDP, ICMP and IPv6 UDP with MACs 00:00:00:00:00:00; an ARP packet is ignored.", false)
	sll("linux_sll2", LinkSLL2, "Linux cooked capture v2 (276): NFStream yields no flow for this link type; the flows listed are this project's (decoded from the IP layer, MACs 00:00:00:00:00:00); an ARP packet is ignored.", true)

	nullFrag := Flow{A: client4, B: dns4, APort: 53060, BPort: 53, Proto: ProtoUDP,
		Packets: []Packet{{Dir: AtoB, At: ms(900), Payload: 40}, {Dir: BtoA, At: ms(902.2), Payload: 2000, Fragments: 2}}}
	add(Scenario{Name: "null_be", Link: LinkNullBE,
		Description: "BSD loopback (0) from a big-endian host: family 2 (IPv4) and 30 (IPv6) written big-endian. IPv4 TCP, UDP, ICMP, a UDP response in 2 fragments (non-first ignored), IPv6 UDP. MACs 00:00:00:00:00:00.",
		Flows: concat(basicMix(false, 0), []Flow{nullFrag,
			udpExchange(client6, dns6, 53061, 53, ms(1000), ms(3.3), 45, 203)})})
	add(Scenario{Name: "null_le", Link: LinkNullLE,
		Description: "BSD loopback (0) from a little-endian host (family written little-endian, the usual case): NFStream's family test fails but the IP version nibble still decides, so IPv4 TCP, UDP, ICMP and IPv6 UDP flows are reported as usual.",
		Flows: concat(basicMix(false, 0), []Flow{
			udpExchange(client6, dns6, 53062, 53, ms(1000), ms(3.3), 45, 203)})})
	quirkGTP := gtp(udpExchange(ue4, dns4, 53063, 53, ms(1200), ms(20.02), 38, 166), 0, "")
	add(Scenario{Name: "null_le_quirks", Link: LinkNullLE,
		Description: "BSD loopback, little-endian family: IPv4 packets go through NFStream's IPv6 branch of its type checks, so the non-first fragment of a UDP response is counted (its data read as ports) and GTP-U is not decapsulated (the outer UDP 2152 flow, tunnel_id 0).",
		Flows:       []Flow{nullFrag, quirkGTP},
		Notes: []string{"Based on reference section 4 (last quirk): with a little-endian DLT_NULL family NFStream skips the IPv4 fragment filter and tunnel decoding. Not confirmed by NFStream output: if wrong, the fragment is ignored and the GTP-U flow is the inner one with tunnel_id 1.",
			"Corpus nats.pcap, rdp.pcap and selfsigned.pcap (little-endian family) confirm that plain IPv4 still parses."}})

	add(Scenario{Name: "ppp", Link: LinkPPP,
		Description: "PPP (9) with a bare 2-byte protocol field (0x0021 IPv4, 0x0057 IPv6): IPv4 TCP, UDP, ICMP and IPv6 UDP; MACs 00:00:00:00:00:00.",
		Flows: concat(basicMix(false, 0), []Flow{
			udpExchange(client6, dns6, 53070, 53, ms(1000), ms(3.3), 45, 203)})})
	add(Scenario{Name: "ppp_address_control", Link: LinkPPPAddrCtrl,
		Description: "PPP (9) in HDLC-like framing (0xff 0x03 before the protocol): NFStream assumes a 2-byte header, reads IP version 0 and ignores every packet.",
		Flows:       basicMix(false, 0),
		Notes:       []string{"NFStream reads a 2-byte PPP header for DLT_PPP (reference section 4) so frames with address/control bytes are ignored; corpus dlt_ppp.pcap only has the bare form. Not confirmed by NFStream output."}})
	add(Scenario{Name: "ppp_cisco_hdlc", Link: LinkPPPCiscoHDLC,
		Description: "Cisco HDLC framing (first byte 0x0f unicast, 0x8f broadcast) in a PPP (9) file: IPv4 TCP, UDP, ICMP, a broadcast UDP packet and IPv6 UDP.",
		Flows: concat(basicMix(false, 0), []Flow{
			udpExchange(client4, host("198.51.100.255", "ff:ff:ff:ff:ff:ff"), 138, 138, ms(700), 0, 201),
			udpExchange(client6, dns6, 53071, 53, ms(1000), ms(3.3), 45, 203)})})
	add(Scenario{Name: "cisco_hdlc", Link: LinkCiscoHDLC,
		Description: "Cisco HDLC (104): IPv4 TCP, UDP, ICMP and IPv6 UDP.",
		Flows: concat(basicMix(false, 0), []Flow{
			udpExchange(client6, dns6, 53072, 53, ms(1000), ms(3.3), 45, 203)})})
	add(Scenario{Name: "raw_ip", Link: LinkRaw,
		Description: "Raw IP (101): IPv4 and IPv6 packets told apart by the version nibble: TCP, UDP and ICMP of each version.",
		Flows:       concat(basicMix(false, 0), basicMix(true, ms(1000)))})
	add(Scenario{Name: "raw_ipv4_228", Link: LinkIPv4,
		Description: "Raw IPv4 (228): TCP, UDP, ICMP.",
		Flows:       basicMix(false, 0)})
	add(Scenario{Name: "raw_ipv6_229", Link: LinkIPv6,
		Description: "Raw IPv6 (229): TCP, UDP, ICMPv6.",
		Flows:       basicMix(true, 0)})

	radioDown := udpExchange(station6, dns6, 123, 123, ms(600), ms(1.5), 48, 48)
	for i := range radioDown.Packets {
		radioDown.Packets[i].Dir = 1 - radioDown.Packets[i].Dir
	}
	radioDown.Note = "first packet is a FromDS frame: src_mac is its addr2, the BSSID"
	radioFlows := concat(basicMixFrom(station4, 0), []Flow{radioDown})
	bad := radioFlows[1].Packets[0]
	bad.At += ms(0.5)
	bad.BadFCS = true
	radioFlows[1].Packets = append(radioFlows[1].Packets, bad)
	add(Scenario{Name: "radiotap", Link: LinkRadiotap,
		Description: "Radiotap (127) with 802.11 QoS data frames (26-byte header, one of ToDS/FromDS set) and LLC/SNAP: src_mac is addr2, dst_mac addr3. Station TCP, UDP, ICMP; an IPv6 flow whose first frame is FromDS; a retransmitted UDP frame flagged bad FCS and a beacon are ignored.",
		Flows:       radioFlows,
		Extras:      []Extra{{Kind: ExtraBeacon, At: ms(0.05), From: Host{MAC: bssid}}},
		Notes:       []string{"Radiotap: NFStream reads the flags byte at offset 16 (it assumes TSFT is present; these frames carry TSFT, so both readings agree) and assumes a 26-byte 802.11 header, which fits QoS data frames. Not confirmed by NFStream output (no radiotap capture in the corpus)."}})

	two := concat(
		[]Flow{onInterface(tcpSession(client4, server4, 40500, 80, 0, 97, 1187), func(p Packet) int { return int(p.Dir) })},
		[]Flow{onInterface(udpExchange(client4, dns4, 53080, 53, ms(10.25), ms(4.6061), 41, 157), func(Packet) int { return 1 })},
		[]Flow{icmpEcho(client4, server4, ms(300.5), 2, 56)},
	)
	for i := range two {
		for j := range two[i].Packets {
			two[i].Packets[j].Skew = time.Duration(317 * (j + 1)) // sub-microsecond digits
		}
	}
	two[0].Note = "A's packets on interface 0, B's on interface 1: one flow (the interface is not in the key)"
	add(Scenario{Name: "pcapng_two_interfaces", Format: PcapNG, Interfaces: 2, Link: LinkEthernet,
		Description: "pcapng, nanosecond resolution, two Ethernet interfaces: a TCP session seen half on each interface is one flow; timestamps carry sub-microsecond digits that libpcap truncates.",
		Flows:       two})

	add(Scenario{Name: "pcap_big_endian", Format: PcapBigEndian, Link: LinkEthernet,
		Description: "Classic pcap written big-endian (magic a1 b2 c3 d4 in file order), microsecond timestamps: IPv4 TCP, UDP, ICMP and IPv6 UDP.",
		Flows: concat(basicMix(false, 0), []Flow{
			udpExchange(client6, dns6, 53090, 53, ms(1000), ms(3.3), 45, 203)})})

	nano := basicMix(false, 0)
	for i := range nano {
		for j := range nano[i].Packets {
			nano[i].Packets[j].Skew = time.Duration(999_999 - 1000*j) // sub-microsecond digits
		}
	}
	add(Scenario{Name: "pcap_nanosecond", Format: PcapNano, Link: LinkEthernet,
		Description: "Classic pcap with nanosecond timestamps (magic a1 b2 3c 4d): timestamps end in ...999 ns, so truncation to microseconds then milliseconds matters.",
		Flows:       nano})

	ooo := basicMix(false, ms(1000))
	ooo[0].Packets[4].Skew = -ms(50.25) // a TCP ACK written 50 ms too early
	late := udpExchange(client4, peer4, 53100, 5353, ms(1200), ms(1), 60, 60, 60)
	late.Packets[0].Skew = -ms(900) // the flow's first packet is older than everything before it
	late.Packets[1].Skew = -ms(1)   // written 1 ms early: still newer than the clock
	late.Note = "first packet written with a time older than earlier packets: first_seen is clamped to the largest time seen"
	add(Scenario{Name: "out_of_order", Link: LinkEthernet,
		Description: "Packets out of time order: NFStream clamps each packet time to the largest time seen so far, so first/last seen and durations use clamped times. An ARP frame stamped 1000 s in the future is ignored and so does not advance the clock.",
		Flows:       append(ooo, late),
		Extras:      []Extra{{Kind: ExtraARP, At: ms(1100), Skew: 1000 * time.Second, From: client4, To: server4}}})

	snapTCP := tcpSession(client4, server4, 40600, 80, 0, 1000, 1400)
	snapUDP := udpExchange(client6, dns6, 53110, 53, ms(200), ms(2.5), 20, 600, 20)
	add(Scenario{Name: "snaplen_truncated", Link: LinkEthernet, SnapLen: 96,
		Description: "Snapshot length 96: truncated IPv4 packets are counted with their full sizes (from headers and the record's original length); an IPv6 packet whose payload is not fully captured is ignored, short IPv6 packets are counted.",
		Flows:       []Flow{snapTCP, snapUDP}})

	add(idleScenario())
	add(activeScenario())
	return cs
}

// basicMixFrom is basicMix with a given IPv4 client.
func basicMixFrom(c Host, t0 time.Duration) []Flow {
	return []Flow{
		tcpSession(c, server4, 40112, 80, t0, 97, 1187),
		udpExchange(c, dns4, 53001, 53, t0+ms(10.25), ms(4.6061), 41, 157),
		icmpEcho(c, server4, t0+ms(300.5), 2, 56),
	}
}

// idleScenario splits and expires flows by the idle timeout (120 s).
func idleScenario() Scenario {
	s := time.Second
	w := udpExchange(client4, dns4, 53200, 53, 0, ms(100), 40, 120)
	w.Note = "idle from 0.1 s: expired by the idle scan at the first packet at or after 120.1 s"
	x := udpExchange(client4, peer4, 5000, 6000, ms(1), 999*time.Millisecond, 80, 80)
	// B speaks after exactly 120 s of silence: the flow is split and the
	// new flow's src is B.
	x.Packets = append(x.Packets, Packet{Dir: BtoA, At: ms(1000) + 120*s, Payload: 80},
		Packet{Dir: AtoB, At: ms(1000) + 121*s, Payload: 80})
	x.Note = "split at a gap of exactly 120000 ms (>=): the second flow starts with B's packet, so its src is B"
	y := tcpSession(client4, server4, 40700, 22, ms(500), 40, 40)
	y.Packets = y.Packets[:3]
	// The third packet is at 523.502 ms (523 after truncation): 120522.9 ms
	// is 119999 ms later.
	y.Packets = append(y.Packets, Packet{Dir: AtoB, At: ms(120522.9), Payload: 36, Flags: PSH | ACK})
	y.Note = "gap of 119999 ms: not split"
	z := icmpEcho(client4, peer4, 2*s, 2, 56)
	z.Note = "idle after 3 s but behind an older live flow in creation order: only the end-of-capture flush expires it"
	last := udpExchange(client4, dns4, 53201, 53, 125*s, ms(3), 40, 120)
	return Scenario{Name: "timeouts_idle", Link: LinkEthernet,
		Description: "Idle timeout (120 s): a flow split at a gap of exactly 120000 ms (new src = the sender after the gap), a flow with a 119999 ms gap that stays whole, a flow expired by the idle scan, and a flow the creation-order scan cannot reach (reference 3.3, issue #120). Ids follow NFStream's expiry order.",
		Flows:       []Flow{w, x, y, z, last},
		Notes:       []string{"Flow ids (output order) follow the model of NFStream's per-packet expiry and creation-order idle scan every 10 ms of packet time (reference 3.2, 3.3)."}}
}

// activeScenario splits flows by the active timeout (1800 s).
func activeScenario() Scenario {
	s := time.Second
	l := tcpSession(client4, server4, 40800, 443, 0, 100, 100)
	l.Packets = l.Packets[:3]
	for i := 1; i <= 33; i++ {
		d := Dir((i + 1) % 2) // B sends at even minutes, so at 1800 s
		l.Packets = append(l.Packets, Packet{Dir: d, At: time.Duration(i) * 60 * s, Payload: 200 + i, Flags: PSH | ACK})
	}
	l.Note = "packets every 60 s: split by the active timeout at the packet of 1800 s (B's), so the second flow's src is B (issue #125)"
	q := udpExchange(client4, dns4, 53300, 53, 5*s, 5*s, 40, 120)
	q.Note = "idle from 10 s but behind the busy flow in creation order: the idle scan only reaches it when the busy flow is split at 1800 s"
	m := Flow{A: client4, B: peer4, APort: 5100, BPort: 6100, Proto: ProtoUDP}
	for i := 0; i <= 17; i++ {
		m.Packets = append(m.Packets, Packet{Dir: AtoB, At: 7*s + time.Duration(i)*100*s, Payload: 30})
	}
	m.Packets = append(m.Packets,
		Packet{Dir: AtoB, At: 7*s + 1799*s + ms(999), Payload: 30},
		Packet{Dir: AtoB, At: 7*s + 1800*s, Payload: 30},
		Packet{Dir: AtoB, At: 7*s + 1860*s, Payload: 30})
	m.Note = "split when time - first_seen reaches exactly 1800000 ms, not at 1799999"
	return Scenario{Name: "timeouts_active", Link: LinkEthernet,
		Description: "Active timeout (1800 s): a busy TCP flow split at exactly 1800 s (expiration_id 1, the new flow's src flips), a UDP flow split at first_seen + 1800000 ms but not at + 1799999 ms, and an idle flow whose expiry waits behind the busy one (creation-order scan).",
		Flows:       []Flow{l, q, m},
		Notes:       []string{"Flow ids (output order) follow the model of NFStream's per-packet expiry and creation-order idle scan every 10 ms of packet time (reference 3.2, 3.3)."}}
}
