package plugin

import (
	"strings"
	"unicode/utf8"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// mdns is NFStream's MDNS plugin: udps.mdns_ptr, the list ([] at first)
// of the PTR names (the record's data, commas made spaces) the DNS
// answers of the flow carry, each once, in the order first seen.
//
// As NFStream, which reads the packet as IPv4 with dpkt: only flows whose
// dst_port is 5353 are read, every packet of them (both directions), and
// only IPv4 packets (dpkt's IPv4 decoder rejects an IPv6 header); the
// transport payload (UDP or TCP, no framing) is decoded as a DNS message
// with gopacket's DNS decoder. A message is left out entirely, as dpkt
// rejects it, when any record (answer, authority or additional) has a
// type dpkt does not decode: anything but A, NS, CNAME, SOA, NULL, PTR,
// HINFO, MX, TXT, AAAA, SRV and OPT (so mDNS answers carrying an NSEC
// record give nothing), or when a name is not UTF-8 (NFStream's plugin
// raises there; here the packet is skipped).
type mdns struct {
	ip  layers.IPv4
	tcp layers.TCP
	dns layers.DNS
}

func newMDNS(args map[string]any) (func() (Plugin, error), error) {
	if err := noMoreArgs(args); err != nil {
		return nil, err
	}
	return func() (Plugin, error) { return &mdns{}, nil }, nil
}

const mdnsSetter = "mdns"

func (m *mdns) OnInit(p *Packet, f *Flow) error {
	f.UDPS.Set("mdns_ptr", []any{}, mdnsSetter)
	return m.OnUpdate(p, f)
}

// dpktRRType reports whether dpkt's DNS decoder reads records of type t.
func dpktRRType(t layers.DNSType) bool {
	switch t {
	case 1, 2, 5, 6, 10, 12, 13, 15, 16, 28, 33, 41:
		return true
	}
	return false
}

func (m *mdns) payload(b []byte) ([]byte, bool) {
	if m.ip.DecodeFromBytes(b, gopacket.NilDecodeFeedback) != nil {
		return nil, false
	}
	if m.ip.FragOffset != 0 {
		return nil, false
	}
	switch m.ip.Protocol {
	case layers.IPProtocolUDP:
		if len(m.ip.Payload) < 8 {
			return nil, false
		}
		return m.ip.Payload[8:], true
	case layers.IPProtocolTCP:
		if m.tcp.DecodeFromBytes(m.ip.Payload, gopacket.NilDecodeFeedback) != nil {
			return nil, false
		}
		return m.tcp.Payload, true
	}
	return nil, false
}

func (m *mdns) OnUpdate(p *Packet, f *Flow) error {
	if p.F.DstPort != 5353 || p.P.IPVersion != 4 {
		return nil
	}
	b, ok := m.payload(p.P.IPContent)
	if !ok || m.dns.DecodeFromBytes(b, gopacket.NilDecodeFeedback) != nil {
		return nil
	}
	d := &m.dns
	for _, q := range d.Questions {
		if !utf8.Valid(q.Name) {
			return nil
		}
	}
	for _, sec := range [...][]layers.DNSResourceRecord{d.Answers, d.Authorities, d.Additionals} {
		for _, rr := range sec {
			if !dpktRRType(rr.Type) || !utf8.Valid(rr.Name) {
				return nil
			}
			if rr.Type == layers.DNSTypePTR && !utf8.Valid(rr.PTR) {
				return nil
			}
		}
	}
	v, _ := f.UDPS.Get("mdns_ptr")
	list, _ := v.([]any)
	changed := false
next:
	for _, rr := range d.Answers {
		if rr.Type != layers.DNSTypePTR {
			continue
		}
		name := strings.ReplaceAll(string(rr.PTR), ",", " ")
		for _, x := range list {
			if x == name {
				continue next
			}
		}
		list = append(list, name)
		changed = true
	}
	if changed {
		f.UDPS.Set("mdns_ptr", list, mdnsSetter)
	}
	return nil
}

func (m *mdns) OnExpire(*Flow) error { return nil }
