//go:build cgo

package dpi

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// ipPacket is one decoded record of a test capture: the bytes NFStream
// hands to nDPI, the packet time in milliseconds and the flow it belongs to.
type ipPacket struct {
	ip   []byte
	ms   uint64
	flow int // index in creation order
}

// flowKey groups packets of both directions: the 5-tuple with the
// endpoints in a fixed order, plus VLAN and tunnel id, as NFStream keys
// flows (without timeouts, which the short test captures do not reach).
type flowKey struct {
	proto        uint8
	vlan         uint16
	tunnel       uint8
	ipLo, ipHi   [16]byte
	portLo, port uint16
	portHi       uint16
}

func keyOf(p *decode.Packet) flowKey {
	k := flowKey{proto: p.Protocol, vlan: p.VlanID, tunnel: p.TunnelID}
	a, b := p.SrcIP, p.DstIP
	pa, pb := p.SrcPort, p.DstPort
	if string(a[:]) > string(b[:]) || (a == b && pa > pb) {
		a, b, pa, pb = b, a, pb, pa
	}
	k.ipLo, k.ipHi, k.portLo, k.portHi = a, b, pa, pb
	return k
}

// readCapture decodes a capture (tunnels on, as NFStream's default) into
// packets labelled with their flow, copying each packet's IP bytes.
func readCapture(tb testing.TB, path string) (pkts []ipPacket, nflows int) {
	tb.Helper()
	src, err := capture.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	d := decode.Decoder{Options: decode.Options{DecodeTunnels: true}}
	flows := map[flowKey]int{}
	var rec capture.Packet
	var p decode.Packet
	for {
		err := src.Next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		if !d.Decode(rec.LinkType, rec.Data, rec.Len, &p) {
			continue
		}
		k := keyOf(&p)
		id, ok := flows[k]
		if !ok {
			id = len(flows)
			flows[k] = id
		}
		ms := rec.TimeMS()
		pkts = append(pkts, ipPacket{ip: append([]byte(nil), p.IPContent...), ms: ms, flow: id})
	}
	return pkts, len(flows)
}

// corpusCapture returns the path of a capture of NFStream's test corpus,
// skipping the test when the corpus is absent.
func corpusCapture(tb testing.TB, name string) string {
	tb.Helper()
	return filepath.Join(corpus.Dir(tb), "pcaps", name)
}

// packetMix is a realistic mix of traffic from the corpus (TLS, QUIC,
// Skype, BitTorrent, HTTP over IPv6, DNS and DoH), as one capture with the
// flows of each file numbered after those of the previous ones.
func packetMix(tb testing.TB) (pkts []ipPacket, nflows int) {
	tb.Helper()
	for _, name := range []string{"facebook.pcap", "quic.pcap", "skype.pcap", "bittorrent.pcap", "http_ipv6.pcap", "dns_doh.pcap"} {
		p, n := readCapture(tb, corpusCapture(tb, name))
		for i := range p {
			p[i].flow += nflows
		}
		pkts = append(pkts, p...)
		nflows += n
	}
	return pkts, nflows
}

// dissected is one flow after NFStream's dissection budget.
type dissected struct {
	Info
	Proto   Protocol
	Guessed bool
	Packets int // packets of the flow
	Fed     int // packets handed to nDPI
}

// meterFlow is the DPI part of a flow as NFStream's meter keeps it.
type meterFlow struct {
	f         Flow
	proto     Protocol
	packets   int
	fed       int
	guessed   bool
	completed bool
}

// dissect runs packets through e as NFStream 6.5.4 does with
// n_dissections = budget (docs/nfstream-semantics.md 3.6), then gives up on
// flows still unknown and collects every flow, in creation order. It frees
// every nDPI flow it creates.
func dissect(e *Engine, pkts []ipPacket, nflows, budget int) []dissected {
	flows := make([]meterFlow, nflows)
	for _, pk := range pkts {
		m := &flows[pk.flow]
		m.packets++
		if m.packets == 1 {
			m.f = e.NewFlow()
			m.proto = e.Process(m.f, pk.ip, pk.ms)
			m.fed++
			if m.proto.AppUnknown() && budget == 1 {
				m.proto, m.guessed = e.GiveUp(m.f)
				m.completed = true
			}
			continue
		}
		if m.completed {
			continue
		}
		if m.proto.AppUnknown() || e.ExtraDissectionPossible(m.f) {
			m.proto = e.Process(m.f, pk.ip, pk.ms)
			m.fed++
		} else {
			m.completed = true
		}
		if m.packets == budget {
			if m.proto.AppUnknown() {
				m.proto, m.guessed = e.GiveUp(m.f)
			}
			m.completed = true
		}
	}
	out := make([]dissected, nflows)
	for i := range flows {
		m := &flows[i]
		if m.proto.AppUnknown() && !m.completed {
			m.proto, m.guessed = e.GiveUp(m.f)
		}
		out[i] = dissected{Info: e.Collect(m.f, m.proto), Proto: m.proto, Guessed: m.guessed, Packets: m.packets, Fed: m.fed}
		e.FreeFlow(&m.f)
	}
	return out
}

func newEngine(tb testing.TB) *Engine {
	tb.Helper()
	e, err := New()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.Close)
	return e
}
