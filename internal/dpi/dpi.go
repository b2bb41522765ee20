package dpi

import (
	"errors"
	"unicode/utf8"
	"unsafe"
)

// ErrUnavailable is wrapped by the error New returns when the program was
// built without cgo, so it cannot call nDPI.
var ErrUnavailable = errors.New("nfstream was built without cgo: nDPI dissection is unavailable")

// Flow is a handle to one nDPI flow state, which lives in C memory. The
// zero Flow is "no flow": every method accepts it and does nothing with it.
// Copies of a Flow refer to the same state; pass exactly one of them to
// Engine.FreeFlow.
type Flow struct {
	p unsafe.Pointer // struct ndpi_flow_struct *, C memory
}

// Valid reports whether f refers to an nDPI flow state, that is, whether it
// came from a successful Engine.NewFlow and has not been freed through this
// value.
func (f Flow) Valid() bool { return f.p != nil }

// Protocol is nDPI's classification of a flow (ndpi_protocol): the master
// protocol (for example TLS or DNS), the application protocol (for example
// Facebook, or the master itself), both as nDPI protocol ids, and the nDPI
// category id.
type Protocol struct {
	Master, App uint16
	Category    uint32
}

// protoUnknown is NDPI_PROTOCOL_UNKNOWN.
const protoUnknown = 0

// AppUnknown reports whether nDPI has not identified the application
// protocol (App is NDPI_PROTOCOL_UNKNOWN). NFStream keeps dissecting such a
// flow and gives up with a guess when its budget runs out.
func (p Protocol) AppUnknown() bool { return p.App == protoUnknown }

// Info holds the L7 columns of a flow as NFStream 6.5.4 fills them from the
// nDPI flow state (see Engine.Collect). Empty strings stand for absent
// values, as in NFStream.
type Info struct {
	// Application is application_name, for example "TLS.Facebook", "DNS"
	// or "Unknown" (at most 39 bytes).
	Application string
	// Category is application_category_name, for example "SocialNetwork"
	// or "Unspecified" (at most 24 bytes).
	Category string
	// Confidence is application_confidence in NFStream's numbering: 0
	// unknown, 1 match by port, 5 DPI cache, 6 DPI, 7 match by IP.
	Confidence uint8
	// RequestedServerName is requested_server_name: TLS/QUIC SNI, HTTP
	// Host, DNS query name and so on (at most 79 bytes).
	RequestedServerName string
	// ClientFingerprint is client_fingerprint: JA3 for the TLS family and
	// QUIC, HASSH client for SSH, the option-55 list for DHCP.
	ClientFingerprint string
	// ServerFingerprint is server_fingerprint: JA3S for the TLS family and
	// QUIC, HASSH server for SSH.
	ServerFingerprint string
	// UserAgent is user_agent (HTTP, and the TLS family and QUIC; at most
	// 255 bytes).
	UserAgent string
	// ContentType is content_type (HTTP only; at most 63 bytes).
	ContentType string
}

// nDPI 4.2 protocol ids (ndpi_protocol_ids.h) that decide which fields
// Collect fills. The cgo build checks them against the header.
const (
	protoDHCP      = 18
	protoHTTP      = 7
	protoSSH       = 92
	protoTLS       = 91
	protoDTLS      = 30
	protoMailSMTPS = 29
	protoMailIMAPS = 51
	protoMailPOPS  = 23
	protoQUIC      = 188
)

// is reports whether the master or the application protocol of p is id,
// the test NFStream's collector uses.
func (p Protocol) is(id uint16) bool { return p.Master == id || p.App == id }

// isTLSFamily reports whether p is one of the protocols whose JA3/JA3S,
// SNI and user agent NFStream collects.
func (p Protocol) isTLSFamily() bool {
	return p.is(protoTLS) || p.is(protoDTLS) || p.is(protoMailSMTPS) ||
		p.is(protoMailIMAPS) || p.is(protoMailPOPS) || p.is(protoQUIC)
}

// nfstreamConfidence maps nDPI 4.2's ndpi_confidence_t to the number
// NFStream's nDPI tree gives the same meaning (docs/compatibility.md item 7):
// unknown 0->0, match by port 1->1, match by IP 2->7, DPI cache 3->5,
// DPI 4->6. nDPI 4.2 defines no other value; should one appear it is
// passed through unchanged (truncated to 8 bits), so that it shows up in
// the output instead of being mistaken for a known meaning.
func nfstreamConfidence(c uint32) uint8 {
	switch c {
	case 0:
		return 0
	case 1:
		return 1
	case 2:
		return 7
	case 3:
		return 5
	case 4:
		return 6
	}
	return uint8(c)
}

// decodeIgnore converts b to a string as Python's
// b.decode("utf-8", errors="ignore") does: well-formed UTF-8 is kept and
// every byte that is not part of a well-formed sequence is dropped.
//
// Python's decoder and utf8.DecodeRune agree on what is well-formed: no
// overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
// Python drops a maximal invalid subpart at a time, where DecodeRune
// reports one byte at a time, but a maximal subpart is a lead byte followed
// only by continuation bytes, none of which can begin a valid sequence, so
// both drop the same bytes. A literal U+FFFD in the input (EF BF BD) is
// well-formed and kept.
func decodeIgnore(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r != utf8.RuneError || n > 1 {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return string(out)
}
