package plugin

import (
	"encoding/binary"
	"testing"

	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/plugin/ja4"
)

// testClientHello is a small TLS 1.2 ClientHello handshake message: two
// cipher suites, a server_name and an ALPN extension.
func testClientHello() []byte {
	var ext []byte
	sni := []byte("example.com")
	e := binary.BigEndian.AppendUint16(nil, uint16(len(sni)+3))
	e = append(e, 0)
	e = binary.BigEndian.AppendUint16(e, uint16(len(sni)))
	e = append(e, sni...)
	ext = binary.BigEndian.AppendUint16(ext, 0)
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(e)))
	ext = append(ext, e...)
	alpn := []byte{0, 3, 2, 'h', '2'}
	ext = binary.BigEndian.AppendUint16(ext, 16)
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(alpn)))
	ext = append(ext, alpn...)

	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // session id
	body = append(body, 0, 4, 0x13, 0x01, 0xc0, 0x2f)
	body = append(body, 1, 0) // compression
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)
	return append([]byte{1, 0, byte(len(body) >> 8), byte(len(body))}, body...)
}

// tlsRecord wraps a handshake message in one TLS record.
func tlsRecord(hs []byte) []byte {
	r := []byte{0x16, 3, 1, byte(len(hs) >> 8), byte(len(hs))}
	return append(r, hs...)
}

func tcpHeader(seq uint32, flags uint8, payload []byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], 50000)
	binary.BigEndian.PutUint16(h[2:], 443)
	binary.BigEndian.PutUint32(h[4:], seq)
	h[12], h[13] = 5<<4, flags
	return append(h, payload...)
}

func ipv4(proto uint8, l4 []byte, padding int) []byte {
	h := make([]byte, 20)
	h[0], h[8], h[9] = 0x45, 64, proto
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(l4)))
	b := append(h, l4...)
	return append(b, make([]byte, padding)...) // link-layer padding
}

// ipv6 builds an IPv6 packet with a hop-by-hop options header.
func ipv6(proto uint8, l4 []byte) []byte {
	h := make([]byte, 48)
	h[0], h[6], h[7] = 0x60, 0, 64
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(l4)))
	h[40], h[41] = proto, 0
	return append(h, l4...)
}

type ja4Run struct {
	t    *testing.T
	pl   Plugin
	view *View
	flow features.Flow
	u    features.UDPS
	n    int
}

func newJA4Run(t *testing.T) *ja4Run {
	newFn, err := newJA4(map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := newFn()
	if err != nil {
		t.Fatal(err)
	}
	return &ja4Run{t: t, pl: pl, view: NewView(features.Config{}, nil)}
}

func (r *ja4Run) packet(version, proto uint8, dir uint8, ip []byte) {
	p := &Packet{P: &decode.Packet{IPVersion: version, Protocol: proto, IPContent: ip}, F: &r.flow, Direction: dir}
	fv := r.view.Live(&r.flow, nil, &r.u)
	var err error
	if r.n == 0 {
		err = r.pl.OnInit(p, fv)
	} else {
		err = r.pl.OnUpdate(p, fv)
	}
	r.n++
	if err != nil {
		r.t.Fatal(err)
	}
}

// value is udps.ja4 after expiry.
func (r *ja4Run) value() any {
	if err := r.pl.OnExpire(r.view.Expired(&features.Record{}, &r.u)); err != nil {
		r.t.Fatal(err)
	}
	if err := Finalize(&r.u); err != nil {
		r.t.Fatal(err)
	}
	v, ok := r.u.Get("ja4")
	if !ok {
		r.t.Fatal("no udps.ja4")
	}
	return v
}

// state reports whether the flow still holds an assembler.
func (r *ja4Run) state() bool {
	v, _ := r.u.Get("ja4")
	switch v.(type) {
	case *ja4TCP, *ja4QUIC:
		return true
	}
	return false
}

func TestJA4Plugin(t *testing.T) {
	hello := testClientHello()
	want, err := ja4.Fingerprint(hello, ja4.TCP)
	if err != nil {
		t.Fatal(err)
	}
	rec := tlsRecord(hello)
	const syn, ack = 0x02, 0x10

	t.Run("ipv4 out of order with padding", func(t *testing.T) {
		r := newJA4Run(t)
		r.packet(4, 6, 0, ipv4(6, tcpHeader(999, syn, nil), 6))
		r.packet(4, 6, 1, ipv4(6, tcpHeader(5000, syn|ack, nil), 6))
		r.packet(4, 6, 0, ipv4(6, tcpHeader(1000+10, ack, rec[10:]), 0))
		if !r.state() {
			t.Fatal("assembler dropped before the hello was complete")
		}
		// The server's packets are not fed.
		r.packet(4, 6, 1, ipv4(6, tcpHeader(5001, ack, tlsRecord([]byte{2, 0, 0, 0})), 0))
		r.packet(4, 6, 0, ipv4(6, tcpHeader(1000, ack, rec[:10]), 20))
		if r.state() {
			t.Fatal("assembler kept after the hello")
		}
		if v := r.value(); v != want {
			t.Fatalf("udps.ja4 %v, want %s", v, want)
		}
	})
	t.Run("ipv6 extension header, no SYN", func(t *testing.T) {
		r := newJA4Run(t)
		r.packet(6, 6, 0, ipv6(6, tcpHeader(7, ack, rec)))
		if v := r.value(); v != want {
			t.Fatalf("udps.ja4 %v, want %s", v, want)
		}
	})
	t.Run("not TLS", func(t *testing.T) {
		r := newJA4Run(t)
		r.packet(4, 6, 0, ipv4(6, tcpHeader(1, syn, nil), 0))
		r.packet(4, 6, 0, ipv4(6, tcpHeader(2, ack, []byte("GET / HTTP/1.1\r\n\r\n")), 0))
		if r.state() {
			t.Fatal("assembler kept after a SYN and a non-TLS segment")
		}
		if v := r.value(); v != nil {
			t.Fatalf("udps.ja4 %v, want None", v)
		}
	})
	t.Run("incomplete hello", func(t *testing.T) {
		r := newJA4Run(t)
		r.packet(4, 6, 0, ipv4(6, tcpHeader(1, syn, nil), 0))
		r.packet(4, 6, 0, ipv4(6, tcpHeader(2, ack, rec[:30]), 0))
		if !r.state() {
			t.Fatal("assembler dropped early")
		}
		if v := r.value(); v != nil {
			t.Fatalf("udps.ja4 %v, want None", v)
		}
	})
	t.Run("udp not quic", func(t *testing.T) {
		r := newJA4Run(t)
		udp := []byte{0, 53, 0, 53, 0, 12, 0, 0, 0x12, 0x34, 0x01, 0x00}
		r.packet(4, 17, 0, ipv4(17, udp, 0))
		if r.state() {
			t.Fatal("assembler kept for a short-header datagram")
		}
		if v := r.value(); v != nil {
			t.Fatalf("udps.ja4 %v, want None", v)
		}
	})
	t.Run("icmp", func(t *testing.T) {
		r := newJA4Run(t)
		r.packet(4, 1, 0, ipv4(1, make([]byte, 8), 0))
		if r.state() {
			t.Fatal("state for ICMP")
		}
		if v := r.value(); v != nil {
			t.Fatalf("udps.ja4 %v, want None", v)
		}
	})
	t.Run("fragment", func(t *testing.T) {
		b := ipv4(6, tcpHeader(1, ack, rec), 0)
		binary.BigEndian.PutUint16(b[6:], 0x2000) // MF
		if _, ok := transportHeader(b, 4, 6); ok {
			t.Fatal("first fragment read as a whole segment")
		}
	})
	if _, err := LoadBuiltin("JA4", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBuiltin("ja4", []Arg{{"x", int64(1)}}); err == nil {
		t.Fatal("argument accepted")
	}
}
