package plugin

import (
	"encoding/binary"

	"github.com/nfstream-go/nfstream/internal/plugin/ja4"
)

// ja4Plugin is NFStream's JA4 plugin without JA4S: udps.ja4, the JA4
// fingerprint of the flow's TLS ClientHello (TLS over TCP, or QUIC's
// Initial packets over UDP), None when the flow has none.
//
// While the hello is awaited the flow's udps.ja4 holds the assembler (an
// Exporter that exports None, seen as None by other plugins); it is
// replaced by the fingerprint or None once the assembler reports Done or
// Failed, which frees it. Only client-to-server packets (direction 0) are
// fed. Flows that are neither TCP nor UDP get None and cost nothing more.
type ja4Plugin struct{}

const ja4Name = "ja4"

func newJA4(args map[string]any) (func() (Plugin, error), error) {
	if err := noMoreArgs(args); err != nil {
		return nil, err
	}
	return func() (Plugin, error) { return ja4Plugin{}, nil }, nil
}

// ja4TCP and ja4QUIC are a flow's assembler while its hello is awaited.
type ja4TCP struct{ a ja4.TCPAssembler }

type ja4QUIC struct{ a ja4.QUICAssembler }

// ExportValue: a flow that expires before its hello is complete has none.
func (*ja4TCP) ExportValue() (any, error)  { return nil, nil }
func (*ja4QUIC) ExportValue() (any, error) { return nil, nil }

const (
	protoTCP = 6
	protoUDP = 17
)

func (ja4Plugin) OnInit(p *Packet, f *Flow) error {
	switch p.P.Protocol {
	case protoTCP:
		st := new(ja4TCP)
		f.UDPS.Set(ja4Name, st, ja4Name)
		feedTCP(st, p, f)
	case protoUDP:
		// The assembler is made at the first client datagram with a
		// payload (see feedQUIC).
		st := new(ja4QUIC)
		f.UDPS.Set(ja4Name, st, ja4Name)
		feedQUIC(st, p, f)
	default:
		f.UDPS.Set(ja4Name, nil, ja4Name)
	}
	return nil
}

func (ja4Plugin) OnUpdate(p *Packet, f *Flow) error {
	if p.Direction != 0 {
		return nil
	}
	v, _ := f.UDPS.Get(ja4Name)
	switch st := v.(type) {
	case *ja4TCP:
		feedTCP(st, p, f)
	case *ja4QUIC:
		feedQUIC(st, p, f)
	}
	return nil
}

func (ja4Plugin) OnExpire(*Flow) error { return nil }

// finish replaces the flow's assembler by the fingerprint of hello (None
// when hello is nil or malformed).
func finishJA4(f *Flow, hello []byte, transport byte) {
	var v any
	if hello != nil {
		if s, err := ja4.Fingerprint(hello, transport); err == nil {
			v = s
		}
	}
	f.UDPS.Set(ja4Name, v, ja4Name)
}

func feedTCP(st *ja4TCP, p *Packet, f *Flow) {
	seg, ok := transportHeader(p.P.IPContent, p.P.IPVersion, protoTCP)
	if !ok || len(seg) < 20 {
		return
	}
	off := int(seg[12]>>4) * 4
	if off < 20 || off > len(seg) {
		return
	}
	seq := binary.BigEndian.Uint32(seg[4:])
	const syn, ack = 0x02, 0x10
	if seg[13]&(syn|ack) == syn {
		st.a.SYN(seq)
	}
	switch st.a.Feed(seq, seg[off:]) {
	case ja4.Done:
		finishJA4(f, st.a.Hello(), ja4.TCP)
	case ja4.Failed:
		finishJA4(f, nil, 0)
	}
}

func feedQUIC(st *ja4QUIC, p *Packet, f *Flow) {
	dg, ok := transportHeader(p.P.IPContent, p.P.IPVersion, protoUDP)
	if !ok || len(dg) < 8 {
		return
	}
	if n := int(binary.BigEndian.Uint16(dg[4:])); n >= 8 && n < len(dg) {
		dg = dg[:n]
	}
	payload := dg[8:]
	if len(payload) == 0 {
		return
	}
	if payload[0]&0x80 == 0 && st.a.Status() == ja4.NeedMore && st.a.Version() == 0 {
		// The client's first datagram is a QUIC long-header (Initial)
		// packet: a short header first is not QUIC, or a flow whose
		// handshake was not captured.
		finishJA4(f, nil, 0)
		return
	}
	switch st.a.Feed(payload) {
	case ja4.Done:
		finishJA4(f, st.a.Hello(), ja4.QUIC)
	case ja4.Failed:
		finishJA4(f, nil, 0)
	}
}

// transportHeader returns the transport header and payload of an IP
// packet (IPv4 or IPv6, from its IP header to the end of the capture,
// bounded by the IP length so that link padding is dropped), if its
// transport protocol is proto and it is not a fragment.
func transportHeader(b []byte, version uint8, proto uint8) ([]byte, bool) {
	switch version {
	case 4:
		if len(b) < 20 {
			return nil, false
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:]))
		if ihl < 20 || total < ihl || len(b) < ihl || b[9] != proto {
			return nil, false
		}
		if binary.BigEndian.Uint16(b[6:])&0x3fff != 0 { // MF or a fragment offset
			return nil, false
		}
		return b[ihl:min(len(b), total)], true
	case 6:
		if len(b) < 40 {
			return nil, false
		}
		end := len(b)
		if n := 40 + int(binary.BigEndian.Uint16(b[4:])); n > 40 && n < end {
			end = n
		}
		next, off := b[6], 40
		for {
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if off+2 > end {
					return nil, false
				}
				next, off = b[off], off+int(b[off+1])*8+8
			case 51: // authentication header
				if off+2 > end {
					return nil, false
				}
				next, off = b[off], off+(int(b[off+1])+2)*4
			case 44: // fragment
				return nil, false
			default:
				if next != proto || off > end {
					return nil, false
				}
				return b[off:end], true
			}
		}
	}
	return nil, false
}
