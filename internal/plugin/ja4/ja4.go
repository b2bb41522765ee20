// Package ja4 computes the JA4 TLS client fingerprint (FoxIO's JA4
// specification, https://github.com/FoxIO-LLC/ja4/blob/main/technical_details/JA4.md, BSD-licensed) from a TLS
// ClientHello, and reassembles that ClientHello from a flow's packets: TLS
// over TCP (TCPAssembler: segments by sequence number, out of order and
// retransmitted) and QUIC (QUICAssembler: Initial packets decrypted with the
// keys derived from the client's Destination Connection ID, RFC 9001 section
// 5, CRYPTO frames reassembled by offset).
//
// Only JA4 (the client fingerprint) is implemented: JA4S and the rest of
// JA4+ are under a different licence.
//
// A flow plugin keeps one assembler per flow and feeds it the transport
// payload of every client-to-server packet until it reports Done or Failed,
// then drops it:
//
//	type flowState struct {
//		tcp  *ja4.TCPAssembler  // TCP flows
//		quic *ja4.QUICAssembler // UDP flows
//		ja4  string
//	}
//
//	// per client-to-server packet of a TCP flow (st.tcp = new(ja4.TCPAssembler) at flow start):
//	if tcp.SYN && !tcp.ACK {
//		st.tcp.SYN(tcp.Seq) // optional: pins the stream's start
//	}
//	switch st.tcp.Feed(tcp.Seq, tcp.Payload) {
//	case ja4.Done:
//		st.ja4, _ = ja4.Fingerprint(st.tcp.Hello(), ja4.TCP)
//		st.tcp = nil
//	case ja4.Failed:
//		st.tcp = nil
//	}
//
//	// per client-to-server datagram of a UDP flow:
//	switch st.quic.Feed(udp.Payload) {
//	case ja4.Done:
//		st.ja4, _ = ja4.Fingerprint(st.quic.Hello(), ja4.QUIC)
//		st.quic = nil
//	case ja4.Failed:
//		st.quic = nil
//	}
//
// Bounds: a ClientHello larger than MaxHello (16 KiB), more than 32 TCP
// segments or 32 datagrams without a complete hello make the assemblers
// give up (Failed). Without a SYN a TCP flow that does not start with a TLS
// handshake record is given up after 4 segments (an earlier segment may
// still arrive out of order); after a SYN, at once.
//
// Nothing in the package panics on any input; malformed input gives an error
// or the Failed status.
package ja4

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Transport is the first character of a JA4 fingerprint.
const (
	TCP  byte = 't' // TLS over TCP
	QUIC byte = 'q' // TLS inside QUIC
	DTLS byte = 'd' // DTLS (the hello given to Parse is then a DTLS handshake message)
)

// Extension types and handshake values the fingerprint needs.
const (
	extServerName          = 0x0000
	extSignatureAlgorithms = 0x000d
	extALPN                = 0x0010
	extSupportedVersions   = 0x002b
	handshakeClientHello   = 1
)

// MaxHello bounds the ClientHello (handshake header included) that the
// assemblers reassemble: larger ones make them give up.
const MaxHello = 16 << 10

// ErrMalformed is wrapped by every error Parse returns.
var ErrMalformed = errors.New("ja4: malformed ClientHello")

// ClientHello holds what JA4 reads from a ClientHello, in the order of the
// message, GREASE values included (IsGREASE tells them apart).
type ClientHello struct {
	LegacyVersion     uint16   // the ClientHello's client_version (legacy_version)
	Ciphers           []uint16 // cipher_suites
	Extensions        []uint16 // extension types
	SignatureAlgs     []uint16 // signature_algorithms (extension 0x000d)
	SupportedVersions []uint16 // supported_versions (extension 0x002b)
	ServerName        string   // first host_name of server_name, if any
	ALPN              []string // protocol names of application_layer_protocol_negotiation
	HasSNI            bool     // the server_name extension is present
}

// IsGREASE reports whether v is one of the GREASE values of RFC 8701
// (0x0a0a, 0x1a1a, ... 0xfafa).
func IsGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}

// reader reads big-endian fields, remembering the first overrun.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) u8() int {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := int(r.b[0])
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() int {
	if len(r.b) < 2 {
		r.bad = true
		r.b = nil
		return 0
	}
	v := int(r.b[0])<<8 | int(r.b[1])
	r.b = r.b[2:]
	return v
}

func (r *reader) u24() int {
	if len(r.b) < 3 {
		r.bad = true
		r.b = nil
		return 0
	}
	v := int(r.b[0])<<16 | int(r.b[1])<<8 | int(r.b[2])
	r.b = r.b[3:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.bad = true
		r.b = nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// Parse reads a ClientHello handshake message: the 4-byte handshake header
// (type 1, 24-bit length) then the body, as carried in TLS records (their
// headers removed) or in QUIC CRYPTO frames. With transport DTLS it reads a
// DTLS handshake message instead (12-byte header, cookie field). Bytes after
// the message are ignored.
func Parse(hello []byte, transport byte) (*ClientHello, error) {
	r := reader{b: hello}
	if typ := r.u8(); r.bad || typ != handshakeClientHello {
		return nil, fmt.Errorf("%w: not a ClientHello handshake message", ErrMalformed)
	}
	n := r.u24()
	if transport == DTLS {
		r.u16() // message_seq
		off := r.u24()
		fragLen := r.u24()
		if off != 0 || fragLen != n {
			return nil, fmt.Errorf("%w: DTLS handshake fragment", ErrMalformed)
		}
	}
	body := r.bytes(n)
	if r.bad {
		return nil, fmt.Errorf("%w: truncated (handshake length %d, %d bytes)", ErrMalformed, n, len(hello))
	}
	r = reader{b: body}
	ch := &ClientHello{LegacyVersion: uint16(r.u16())}
	r.bytes(32)     // random
	r.bytes(r.u8()) // legacy_session_id
	if transport == DTLS {
		r.bytes(r.u8()) // cookie
	}
	cs := reader{b: r.bytes(r.u16())}
	if r.bad || len(cs.b)%2 != 0 {
		return nil, fmt.Errorf("%w: cipher_suites", ErrMalformed)
	}
	for len(cs.b) > 0 {
		ch.Ciphers = append(ch.Ciphers, uint16(cs.u16()))
	}
	r.bytes(r.u8()) // legacy_compression_methods
	if r.bad {
		return nil, fmt.Errorf("%w: truncated before extensions", ErrMalformed)
	}
	if len(r.b) == 0 { // no extensions block at all (SSL 3.0 / early TLS)
		return ch, nil
	}
	exts := reader{b: r.bytes(r.u16())}
	if r.bad {
		return nil, fmt.Errorf("%w: extensions length", ErrMalformed)
	}
	for len(exts.b) > 0 {
		typ := uint16(exts.u16())
		data := exts.bytes(exts.u16())
		if exts.bad {
			return nil, fmt.Errorf("%w: extension %#04x truncated", ErrMalformed, typ)
		}
		ch.Extensions = append(ch.Extensions, typ)
		if err := ch.extension(typ, data); err != nil {
			return nil, err
		}
	}
	return ch, nil
}

// extension reads the content of the extensions JA4 looks into.
func (ch *ClientHello) extension(typ uint16, data []byte) error {
	e := reader{b: data}
	switch typ {
	case extServerName:
		ch.HasSNI = true
		list := reader{b: e.bytes(e.u16())}
		for len(list.b) > 0 && !list.bad {
			kind := list.u8()
			name := list.bytes(list.u16())
			if !list.bad && kind == 0 && ch.ServerName == "" {
				ch.ServerName = string(name)
			}
		}
		// A malformed server_name still counts as present: JA4 only asks
		// whether the extension exists.
	case extSignatureAlgorithms:
		list := reader{b: e.bytes(e.u16())}
		if e.bad || len(list.b)%2 != 0 {
			return fmt.Errorf("%w: signature_algorithms", ErrMalformed)
		}
		for len(list.b) > 0 {
			ch.SignatureAlgs = append(ch.SignatureAlgs, uint16(list.u16()))
		}
	case extALPN:
		list := reader{b: e.bytes(e.u16())}
		if e.bad {
			return fmt.Errorf("%w: application_layer_protocol_negotiation", ErrMalformed)
		}
		for len(list.b) > 0 {
			p := list.bytes(list.u8())
			if list.bad {
				return fmt.Errorf("%w: application_layer_protocol_negotiation", ErrMalformed)
			}
			ch.ALPN = append(ch.ALPN, string(p))
		}
	case extSupportedVersions:
		list := reader{b: e.bytes(e.u8())}
		if e.bad || len(list.b)%2 != 0 {
			return fmt.Errorf("%w: supported_versions", ErrMalformed)
		}
		for len(list.b) > 0 {
			ch.SupportedVersions = append(ch.SupportedVersions, uint16(list.u16()))
		}
	}
	return nil
}

// Fingerprint parses a ClientHello handshake message (see Parse) and returns
// its JA4 fingerprint, e.g. "t13d1516h2_8daaf6152771_e5627efa2ab1".
func Fingerprint(hello []byte, transport byte) (string, error) {
	ch, err := Parse(hello, transport)
	if err != nil {
		return "", err
	}
	return ch.JA4(transport), nil
}

// Version returns the TLS version JA4 reports: the highest non-GREASE
// supported_versions value when the extension is present, else the
// ClientHello's legacy_version. For DTLS "highest" is the newest version,
// that is the numerically lowest 0xfeXX.
func (ch *ClientHello) Version() uint16 {
	v, found := uint16(0), false
	for _, sv := range ch.SupportedVersions {
		if IsGREASE(sv) {
			continue
		}
		if !found || newer(sv, v) {
			v, found = sv, true
		}
	}
	if !found {
		return ch.LegacyVersion
	}
	return v
}

func newer(a, b uint16) bool {
	if a>>8 == 0xfe && b>>8 == 0xfe {
		return a < b
	}
	return a > b
}

func versionCode(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// alpnCode is the two ALPN characters of JA4_a.
func alpnCode(alpn []string) string {
	if len(alpn) == 0 || alpn[0] == "" {
		return "00"
	}
	p := alpn[0]
	first, last := p[0], p[len(p)-1]
	if isAlnum(first) && isAlnum(last) {
		return string([]byte{first, last})
	}
	// Not both alphanumeric: the first and last characters of the value's
	// hex representation.
	h := hex.EncodeToString([]byte(p))
	return string([]byte{h[0], h[len(h)-1]})
}

func count(n int) string {
	return fmt.Sprintf("%02d", min(n, 99))
}

func withoutGREASE(vs []uint16) []uint16 {
	out := make([]uint16, 0, len(vs))
	for _, v := range vs {
		if !IsGREASE(v) {
			out = append(out, v)
		}
	}
	return out
}

func hexList(vs []uint16) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%04x", v)
	}
	return b.String()
}

func hash12(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// parts returns JA4_a and the strings hashed into JA4_b and JA4_c (empty
// when the fingerprint has 000000000000 there). With original, the lists are
// kept in their order and the extension list keeps SNI and ALPN (JA4_o).
func (ch *ClientHello) parts(transport byte, original bool) (a, b, c string) {
	ciphers := withoutGREASE(ch.Ciphers)
	exts := withoutGREASE(ch.Extensions)
	sni := "i"
	if ch.HasSNI {
		sni = "d"
	}
	a = string(transport) + versionCode(ch.Version()) + sni + count(len(ciphers)) + count(len(exts)) + alpnCode(ch.ALPN)
	if !original {
		slices.Sort(ciphers)
		kept := exts[:0:0]
		for _, e := range exts {
			if e != extServerName && e != extALPN {
				kept = append(kept, e)
			}
		}
		exts = kept
		slices.Sort(exts)
	}
	b = hexList(ciphers)
	if len(exts) > 0 {
		c = hexList(exts)
		// "If there are no signature algorithms in the hello packet, then
		// the string ends without an underscore."
		if sigs := withoutGREASE(ch.SignatureAlgs); len(sigs) > 0 {
			c += "_" + hexList(sigs)
		}
	}
	return a, b, c
}

// JA4 returns the fingerprint JA4_a_b_c.
func (ch *ClientHello) JA4(transport byte) string {
	return ch.hashed(transport, false)
}

// JA4Original returns JA4_o: the same with ciphers and extensions in their
// original order and SNI and ALPN kept in the extension list.
func (ch *ClientHello) JA4Original(transport byte) string {
	return ch.hashed(transport, true)
}

func (ch *ClientHello) hashed(transport byte, original bool) string {
	a, b, c := ch.parts(transport, original)
	hb, hc := "000000000000", "000000000000"
	if b != "" {
		hb = hash12(b)
	}
	if c != "" {
		hc = hash12(c)
	}
	return a + "_" + hb + "_" + hc
}

// Raw returns the unhashed fingerprint (JA4_r, or JA4_ro with original).
func (ch *ClientHello) Raw(transport byte, original bool) string {
	a, b, c := ch.parts(transport, original)
	return a + "_" + b + "_" + c
}
