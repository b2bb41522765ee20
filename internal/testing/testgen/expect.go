package testgen

import (
	"net/netip"
	"strings"
)

// NFStream's default timeouts, in milliseconds (reference 3.3).
const (
	IdleTimeoutMs   = 120_000
	ActiveTimeoutMs = 1_800_000
	// scanIntervalMs is how much packet time passes between idle scans.
	scanIntervalMs = 10
	// scanLimit is the most flows one idle scan expires.
	scanLimit = 1000
)

// Expected is what NFStream (n_meters=1, default parameters) should report
// for one capture. It is written beside the capture as <name>.expected.json.
type Expected struct {
	// Capture is the capture's file name.
	Capture     string `json:"capture"`
	Description string `json:"description"`
	// Format is pcap, pcap-nanosecond, pcap-big-endian or pcapng.
	Format   string `json:"format"`
	LinkType int    `json:"link_type"`
	// IdleTimeoutMs and ActiveTimeoutMs are the timeouts the flows were
	// computed with (NFStream's defaults).
	IdleTimeoutMs   int64 `json:"idle_timeout_ms"`
	ActiveTimeoutMs int64 `json:"active_timeout_ms"`
	// NFStreamYieldsNothing is true when NFStream reports no flow for the
	// link type; Flows are then what this project's tool reports.
	NFStreamYieldsNothing bool `json:"nfstream_yields_nothing,omitempty"`
	// Notes name parts of the expectation that rest on a reading of
	// NFStream's code not yet confirmed by its output.
	Notes []string `json:"notes,omitempty"`
	// Packets is the number of records in the file.
	Packets int `json:"packets"`
	// IgnoredPackets counts the records NFStream's parser ignores.
	IgnoredPackets int             `json:"ignored_packets"`
	Ignored        []IgnoredPacket `json:"ignored"`
	// Flows are in NFStream's output order (id order).
	Flows []ExpectedFlow `json:"flows"`
}

// IgnoredPacket is a record NFStream's parser ignores.
type IgnoredPacket struct {
	// Index is the record's position in the file, from 0.
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// DirBytes are a flow's byte counters under one accounting mode.
type DirBytes struct {
	Bidirectional int64 `json:"bidirectional_bytes"`
	Src2Dst       int64 `json:"src2dst_bytes"`
	Dst2Src       int64 `json:"dst2src_bytes"`
}

// ModeBytes are a flow's byte counters under each accounting mode.
type ModeBytes struct {
	// Raw is mode 0: the pcap record's original length.
	Raw DirBytes `json:"0_raw"`
	// IP is mode 1: IPv4 total length, IPv6 payload length.
	IP DirBytes `json:"1_ip"`
	// IPv6WithHeader is mode 1 if IPv6 packets counted their 40-byte fixed
	// header too (equal to IP for IPv4 flows). NFStream's outputs in the
	// corpus (full-ip/http_ipv6.pcap.csv) show it does not: IP is right.
	IPv6WithHeader DirBytes `json:"1_ip_alt_ipv6_with_fixed_header"`
	// Transport is mode 2: the transport length (TCP, UDP, ICMP, ICMPv6;
	// 0 for other protocols).
	Transport DirBytes `json:"2_transport"`
	// Payload is mode 3: the transport length less the transport header.
	Payload DirBytes `json:"3_payload"`
}

// ExpectedPacket is one packet of an expected flow.
type ExpectedPacket struct {
	// Index is the record's position in the file, from 0.
	Index int `json:"index"`
	// Direction is 0 for src2dst, 1 for dst2src.
	Direction int `json:"direction"`
	// TimeMs is the packet time NFStream uses (clamped to the largest
	// time seen so far); FileTimeMs is the file's time when it differs.
	TimeMs     int64  `json:"time_ms"`
	FileTimeMs *int64 `json:"file_time_ms,omitempty"`
	// Sizes under accounting modes 0 to 3.
	Raw       int `json:"raw_size"`
	IP        int `json:"ip_size"`
	Transport int `json:"transport_size"`
	Payload   int `json:"payload_size"`
	// TCPFlags is the TCP flags byte (FIN 1, SYN 2, RST 4, PSH 8, ACK 16,
	// URG 32, ECE 64, CWR 128).
	TCPFlags uint8 `json:"tcp_flags"`
}

// ExpectedFlow is one flow record, with NFStream's core column names;
// bytes columns are under accounting mode 0, the default.
type ExpectedFlow struct {
	ID                       int    `json:"id"`
	ExpirationID             int    `json:"expiration_id"`
	SrcIP                    string `json:"src_ip"`
	SrcMAC                   string `json:"src_mac"`
	SrcOUI                   string `json:"src_oui"`
	SrcPort                  uint16 `json:"src_port"`
	DstIP                    string `json:"dst_ip"`
	DstMAC                   string `json:"dst_mac"`
	DstOUI                   string `json:"dst_oui"`
	DstPort                  uint16 `json:"dst_port"`
	Protocol                 uint8  `json:"protocol"`
	IPVersion                uint8  `json:"ip_version"`
	VLANID                   uint16 `json:"vlan_id"`
	TunnelID                 uint8  `json:"tunnel_id"`
	BidirectionalFirstSeenMs int64  `json:"bidirectional_first_seen_ms"`
	BidirectionalLastSeenMs  int64  `json:"bidirectional_last_seen_ms"`
	BidirectionalDurationMs  int64  `json:"bidirectional_duration_ms"`
	BidirectionalPackets     int64  `json:"bidirectional_packets"`
	BidirectionalBytes       int64  `json:"bidirectional_bytes"`
	Src2DstFirstSeenMs       int64  `json:"src2dst_first_seen_ms"`
	Src2DstLastSeenMs        int64  `json:"src2dst_last_seen_ms"`
	Src2DstDurationMs        int64  `json:"src2dst_duration_ms"`
	Src2DstPackets           int64  `json:"src2dst_packets"`
	Src2DstBytes             int64  `json:"src2dst_bytes"`
	Dst2SrcFirstSeenMs       int64  `json:"dst2src_first_seen_ms"`
	Dst2SrcLastSeenMs        int64  `json:"dst2src_last_seen_ms"`
	Dst2SrcDurationMs        int64  `json:"dst2src_duration_ms"`
	Dst2SrcPackets           int64  `json:"dst2src_packets"`
	Dst2SrcBytes             int64  `json:"dst2src_bytes"`
	// Bytes are the byte counters under every accounting mode.
	Bytes ModeBytes `json:"bytes_by_accounting_mode"`
	// Packets are the flow's packets in order.
	Packets []ExpectedPacket `json:"packets"`
	// Note says what is special about the flow, if anything.
	Note string `json:"note,omitempty"`
}

// endpoint is one side of a flow key.
type endpoint struct {
	ip   netip.Addr
	port uint16
}

// flowKey is NFStream's key: the unordered pair of endpoints plus protocol,
// VLAN id and tunnel id (reference 3.1). Any canonical order of the pair
// groups packets the same way as NFStream's word comparison.
type flowKey struct {
	lo, hi endpoint
	proto  uint8
	vlan   uint16
	tunnel uint8
}

func keyOf(t *truth) flowKey {
	a := endpoint{t.srcIP, t.srcPort}
	b := endpoint{t.dstIP, t.dstPort}
	if c := a.ip.Compare(b.ip); c > 0 || (c == 0 && a.port > b.port) {
		a, b = b, a
	}
	return flowKey{lo: a, hi: b, proto: t.proto, vlan: t.vlan, tunnel: t.tunnel}
}

// meterFlow is a flow while it is in the model meter's cache.
type meterFlow struct {
	key   flowKey
	first truth // the first packet's truth: src side, MACs, version
	out   ExpectedFlow
	notes []string
	gone  bool
}

// meter models one NFStream meter (reference 3.2 to 3.4).
type meter struct {
	cache    map[flowKey]*meterFlow
	order    []*meterFlow // creation order, expired flows marked gone
	tick     int64
	lastScan int64
	out      []ExpectedFlow
	ignored  []IgnoredPacket
}

// expect runs the model meter over the frames in file order.
func expect(frames []frame) (flows []ExpectedFlow, ignored []IgnoredPacket) {
	m := &meter{cache: map[flowKey]*meterFlow{}}
	for i := range frames {
		m.packet(i, &frames[i])
	}
	for _, f := range m.order {
		if !f.gone {
			m.expire(f, 0)
		}
	}
	if m.ignored == nil {
		m.ignored = []IgnoredPacket{}
	}
	if m.out == nil {
		m.out = []ExpectedFlow{}
	}
	return m.out, m.ignored
}

func timeMs(fr *frame) int64 {
	// libpcap hands out seconds and microseconds (nanosecond files are
	// divided down); NFStream truncates microseconds to milliseconds.
	// For the non-negative times used here that is microseconds / 1000.
	return fr.ts.UnixMicro() / 1000
}

func (m *meter) packet(index int, fr *frame) {
	t := &fr.t
	if t.ignored {
		m.ignored = append(m.ignored, IgnoredPacket{Index: index, Reason: t.reason})
		return
	}
	fileMs := timeMs(fr)
	now := fileMs
	if now <= m.tick {
		now = m.tick
	} else {
		m.tick = now
	}
	k := keyOf(t)
	f := m.cache[k]
	if f != nil {
		switch {
		case now-f.out.BidirectionalLastSeenMs >= IdleTimeoutMs:
			m.expire(f, 0)
			f = nil
		case now-f.out.BidirectionalFirstSeenMs >= ActiveTimeoutMs:
			m.expire(f, 1)
			f = nil
		}
	}
	if f == nil {
		f = m.create(k, t, now)
	}
	f.update(index, fr, now, fileMs)
	if m.tick-m.lastScan >= scanIntervalMs {
		m.scan()
		m.lastScan = m.tick
	}
}

func (m *meter) create(k flowKey, t *truth, now int64) *meterFlow {
	f := &meterFlow{key: k, first: *t}
	f.out = ExpectedFlow{
		SrcIP: t.srcIP.String(), SrcMAC: t.srcMAC.String(), SrcPort: t.srcPort,
		DstIP: t.dstIP.String(), DstMAC: t.dstMAC.String(), DstPort: t.dstPort,
		Protocol: t.proto, IPVersion: t.ipVersion, VLANID: t.vlan, TunnelID: t.tunnel,
		BidirectionalFirstSeenMs: now, Src2DstFirstSeenMs: now,
		Packets: []ExpectedPacket{},
	}
	f.out.SrcOUI = f.out.SrcMAC[:8]
	f.out.DstOUI = f.out.DstMAC[:8]
	m.cache[k] = f
	m.order = append(m.order, f)
	return f
}

// direction is NFStream's test: ports first, then addresses (reference 2.3).
func (f *meterFlow) direction(t *truth) int {
	if t.srcPort != f.first.srcPort || t.dstPort != f.first.dstPort {
		return 1
	}
	if t.srcIP != f.first.srcIP || t.dstIP != f.first.dstIP {
		return 1
	}
	return 0
}

func add(d *DirBytes, dir int, n int) {
	d.Bidirectional += int64(n)
	if dir == 0 {
		d.Src2Dst += int64(n)
	} else {
		d.Dst2Src += int64(n)
	}
}

func (f *meterFlow) update(index int, fr *frame, now, fileMs int64) {
	t := &fr.t
	o := &f.out
	dir := 0
	if len(o.Packets) > 0 {
		dir = f.direction(t)
	}
	// Sizes are 16-bit in NFStream; the captures here stay far below.
	raw := fr.origLen
	o.BidirectionalPackets++
	o.BidirectionalLastSeenMs = now
	o.BidirectionalDurationMs = now - o.BidirectionalFirstSeenMs
	if dir == 0 {
		o.Src2DstPackets++
		o.Src2DstLastSeenMs = now
		o.Src2DstDurationMs = now - o.Src2DstFirstSeenMs
	} else {
		if o.Dst2SrcPackets == 0 {
			o.Dst2SrcFirstSeenMs = now
		}
		o.Dst2SrcPackets++
		o.Dst2SrcLastSeenMs = now
		o.Dst2SrcDurationMs = now - o.Dst2SrcFirstSeenMs
	}
	add(&o.Bytes.Raw, dir, raw)
	add(&o.Bytes.IP, dir, t.ip)
	add(&o.Bytes.IPv6WithHeader, dir, t.ipAlt)
	add(&o.Bytes.Transport, dir, t.transport)
	add(&o.Bytes.Payload, dir, t.payload)
	o.BidirectionalBytes = o.Bytes.Raw.Bidirectional
	o.Src2DstBytes = o.Bytes.Raw.Src2Dst
	o.Dst2SrcBytes = o.Bytes.Raw.Dst2Src
	p := ExpectedPacket{Index: index, Direction: dir, TimeMs: now, Raw: raw, IP: t.ip,
		Transport: t.transport, Payload: t.payload, TCPFlags: uint8(t.flags)}
	if fileMs != now {
		p.FileTimeMs = &fileMs
	}
	o.Packets = append(o.Packets, p)
	if t.note != "" && !contains(f.notes, t.note) {
		f.notes = append(f.notes, t.note)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (m *meter) expire(f *meterFlow, expiration int) {
	f.gone = true
	delete(m.cache, f.key)
	f.out.ExpirationID = expiration
	f.out.ID = len(m.out)
	f.out.Note = strings.Join(f.notes, "; ")
	m.out = append(m.out, f.out)
	m.compact()
}

// compact drops expired flows from the head of the creation order.
func (m *meter) compact() {
	i := 0
	for i < len(m.order) && m.order[i].gone {
		i++
	}
	m.order = m.order[i:]
}

// scan is NFStream's idle scan: walk the cache in creation order, expire
// idle flows, stop at the first flow that is not idle (reference 3.3).
func (m *meter) scan() {
	n := 0
	for _, f := range append([]*meterFlow(nil), m.order...) {
		if f.gone {
			continue
		}
		if n == scanLimit || m.tick-IdleTimeoutMs < f.out.BidirectionalLastSeenMs {
			return
		}
		m.expire(f, 0)
		n++
	}
}
