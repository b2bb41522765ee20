package ja4

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"io"

	"golang.org/x/crypto/hkdf"
)

// QUIC versions whose Initial packets QUICAssembler decrypts (see also
// lookupVersion: the IETF drafts 23-32, mvfst's 0xfaceb001, 0xfaceb002
// and 0xfaceb00e, Google's T050 and T051, reserved versions).
const (
	QUICv1 uint32 = 0x00000001 // RFC 9000
	QUICv2 uint32 = 0x6b3343cf // RFC 9369
)

// maxQUICDatagrams bounds the client datagrams a QUICAssembler looks at
// before giving up.
const maxQUICDatagrams = 32

// Initial salts: RFC 9001 section 5.2, RFC 9369 section 3.3.1, and the
// IETF drafts 23-28 and 29-32 (draft-ietf-quic-tls-23 and -29, section 5.2).
var (
	saltV1      = []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}
	saltV2      = []byte{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9}
	saltDraft23 = []byte{0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5, 0x02}
	saltDraft29 = []byte{0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99}
	// draft-ietf-quic-tls-22, used by Facebook's mvfst 0xfaceb001.
	saltDraft22 = []byte{0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd, 0x7a, 0x02, 0x64, 0x4a}
)

// quicVersion describes how a QUIC version protects its Initial packets.
type quicVersion struct {
	salt        []byte
	labelPrefix string // "quic " or "quicv2 "
	initialType byte   // long packet type of Initial
	altSalt     []byte // another salt to try when salt fails, or nil
}

func lookupVersion(v uint32) (quicVersion, bool) {
	switch {
	case v == QUICv1:
		return quicVersion{saltV1, "quic ", 0, nil}, true
	case v == QUICv2:
		return quicVersion{saltV2, "quicv2 ", 1, nil}, true
	case v >= 0xff000017 && v <= 0xff00001c:
		return quicVersion{saltDraft23, "quic ", 0, nil}, true
	case v >= 0xff00001d && v <= 0xff000020:
		return quicVersion{saltDraft29, "quic ", 0, nil}, true
	case v == 0xfaceb001: // mvfst, draft-22
		return quicVersion{saltDraft22, "quic ", 0, nil}, true
	case v == 0xfaceb002, v == 0xfaceb00e: // mvfst, draft-27 and experimental
		return quicVersion{saltDraft23, "quic ", 0, nil}, true
	case v&0x0f0f0f0f == 0x0a0a0a0a:
		// A reserved version (RFC 9000 section 15), sent to provoke
		// Version Negotiation: clients protect it like the version they
		// mean to use, v1 or draft-29 (quic_interop_V.pcapng of NFStream's
		// corpus). Each is tried; GCM authentication tells which.
		return quicVersion{saltV1, "quic ", 0, saltDraft29}, true
	}
	return quicVersion{}, false
}

// hkdfExpandLabel is TLS 1.3's HKDF-Expand-Label (RFC 8446 section 7.1)
// with an empty context, over SHA-256.
func hkdfExpandLabel(secret []byte, label string, n int) []byte {
	full := "tls13 " + label
	info := make([]byte, 0, 4+len(full))
	info = append(info, byte(n>>8), byte(n), byte(len(full)))
	info = append(info, full...)
	info = append(info, 0)
	out := make([]byte, n)
	if _, err := io.ReadFull(hkdf.Expand(sha256.New, secret, info), out); err != nil {
		panic("ja4: hkdf: " + err.Error()) // cannot happen for n <= 255*32
	}
	return out
}

// initialKeys holds the client's Initial packet protection (RFC 9001
// section 5.2): AES-128-GCM for the payload, AES-128 for the header.
type initialKeys struct {
	dcid []byte
	aead cipher.AEAD
	iv   []byte
	hp   cipher.Block
}

// clientInitialSecrets derives the client's Initial key, IV and header
// protection key from the Destination Connection ID of its first Initial.
func clientInitialSecrets(v quicVersion, dcid []byte) (key, iv, hp []byte) {
	initial := hkdf.Extract(sha256.New, dcid, v.salt)
	client := hkdfExpandLabel(initial, "client in", sha256.Size)
	return hkdfExpandLabel(client, v.labelPrefix+"key", 16),
		hkdfExpandLabel(client, v.labelPrefix+"iv", 12),
		hkdfExpandLabel(client, v.labelPrefix+"hp", 16)
}

func newInitialKeys(v quicVersion, dcid []byte) *initialKeys {
	key, iv, hp := clientInitialSecrets(v, dcid)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil
	}
	hpb, err := aes.NewCipher(hp)
	if err != nil {
		return nil
	}
	return &initialKeys{dcid: append([]byte(nil), dcid...), aead: aead, iv: iv, hp: hpb}
}

// varint reads a QUIC variable-length integer (RFC 9000 section 16).
func (r *reader) varint() uint64 {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	n := 1 << (r.b[0] >> 6)
	if len(r.b) < n {
		r.bad = true
		r.b = nil
		return 0
	}
	v := uint64(r.b[0] & 0x3f)
	for _, c := range r.b[1:n] {
		v = v<<8 | uint64(c)
	}
	r.b = r.b[n:]
	return v
}

// longPacket is one long-header packet of a datagram, header protection
// still on.
type longPacket struct {
	version  uint32
	typ      byte // long packet type bits
	dcid     []byte
	pnOffset int    // offset of the packet number in raw
	raw      []byte // the whole packet, header and payload
}

// splitLong reads the long-header packets coalesced in a datagram (RFC 9000
// section 12.2); it stops at a short header, a Retry, a Version Negotiation
// or anything malformed.
func splitLong(d []byte) []longPacket {
	var out []longPacket
	for len(d) >= 7 && d[0]&0x80 != 0 {
		r := reader{b: d[1:]}
		version := uint32(r.u16())<<16 | uint32(r.u16())
		if version == 0 {
			break
		}
		dcid := r.bytes(r.u8())
		r.bytes(r.u8()) // scid
		if r.bad || len(dcid) > 20 {
			break
		}
		v, known := lookupVersion(version)
		typ := (d[0] >> 4) & 3
		if !known {
			break
		}
		if typ == v.initialType {
			r.bytes(int(min(r.varint(), uint64(len(d))+1))) // token
		} else if typ == (v.initialType+3)&3 { // Retry: no length, ends the datagram
			break
		}
		length := r.varint()
		if r.bad || length > uint64(len(r.b)) {
			break
		}
		pnOffset := len(d) - len(r.b)
		end := pnOffset + int(length)
		out = append(out, longPacket{version, typ, dcid, pnOffset, d[:end:end]})
		d = d[end:]
	}
	return out
}

// open removes header protection and decrypts an Initial packet, returning
// its frames. It does not modify p.raw.
func (k *initialKeys) open(p longPacket) ([]byte, bool) {
	raw := p.raw
	if len(raw) < p.pnOffset+4+16 {
		return nil, false
	}
	var mask [16]byte
	k.hp.Encrypt(mask[:], raw[p.pnOffset+4:p.pnOffset+4+16])
	first := raw[0] ^ mask[0]&0x0f
	pnLen := int(first&3) + 1
	hdr := make([]byte, p.pnOffset+pnLen)
	copy(hdr, raw)
	hdr[0] = first
	var pn uint64
	for i := range pnLen {
		hdr[p.pnOffset+i] ^= mask[1+i]
		pn = pn<<8 | uint64(hdr[p.pnOffset+i])
	}
	nonce := make([]byte, len(k.iv))
	copy(nonce, k.iv)
	var pnb [8]byte
	binary.BigEndian.PutUint64(pnb[:], pn)
	for i := range 8 {
		nonce[len(nonce)-8+i] ^= pnb[i]
	}
	plain, err := k.aead.Open(nil, nonce, raw[len(hdr):], hdr)
	if err != nil {
		return nil, false
	}
	return plain, true
}

// cryptoFrames hands the CRYPTO frames of a decrypted Initial payload to
// add. It reports false on a malformed payload or a frame not allowed in
// Initial packets.
func cryptoFrames(payload []byte, add func(off uint64, data []byte)) bool {
	r := reader{b: payload}
	for len(r.b) > 0 {
		switch typ := r.varint(); typ {
		case 0x00, 0x01: // PADDING, PING
		case 0x02, 0x03: // ACK, ACK with ECN counts
			r.varint() // largest acknowledged
			r.varint() // ack delay
			ranges := r.varint()
			r.varint() // first range
			for i := uint64(0); i < ranges && !r.bad; i++ {
				r.varint() // gap
				r.varint() // range length
			}
			if typ == 0x03 {
				r.varint()
				r.varint()
				r.varint()
			}
		case 0x06: // CRYPTO
			off := r.varint()
			data := r.bytes(int(min(r.varint(), uint64(len(r.b))+1)))
			if r.bad {
				return false
			}
			add(off, data)
		case 0x1c: // CONNECTION_CLOSE
			r.varint() // error code
			r.varint() // frame type
			r.bytes(int(min(r.varint(), uint64(len(r.b))+1)))
		default:
			return false
		}
		if r.bad {
			return false
		}
	}
	return true
}

// QUICAssembler reassembles the ClientHello of one QUIC flow from the
// client's Initial packets. Its zero value is ready; it is not safe for
// concurrent use. Feed it the UDP payload of every client-to-server
// datagram until it returns Done or Failed. It handles QUIC v1, v2, the
// IETF drafts 23 to 32 and the versions of lookupVersion, coalesced packets, several Initial packets and
// CRYPTO frames in any order.
type QUICAssembler struct {
	status    Status
	hello     []byte
	version   uint32
	keys      *initialKeys
	crypto    stream
	datagrams int
}

// Status returns the last status Feed returned.
func (a *QUICAssembler) Status() Status { return a.status }

// Hello returns the ClientHello handshake message once Feed returned Done.
func (a *QUICAssembler) Hello() []byte { return a.hello }

// Version returns the QUIC version of the client's Initial packets (0 until
// one was decrypted).
func (a *QUICAssembler) Version() uint32 { return a.version }

// Feed adds one client-to-server datagram (it is not kept nor modified).
func (a *QUICAssembler) Feed(datagram []byte) Status {
	if a.status != NeedMore {
		return a.status
	}
	a.datagrams++
	first := a.keys == nil
	opened := false
	for _, p := range splitLong(datagram) {
		v, _ := lookupVersion(p.version)
		if p.typ != v.initialType {
			continue
		}
		if a.version != 0 && p.version != a.version {
			continue
		}
		payload, ok := a.open(v, p)
		if !ok {
			continue
		}
		opened = true
		a.crypto.limit = MaxHello
		if !cryptoFrames(payload, func(off uint64, data []byte) {
			if off < MaxHello {
				a.crypto.add(int(off), data)
			}
		}) {
			return a.fail()
		}
		if st, hello := helloStatus(a.crypto.prefix()); st != NeedMore {
			if st == Done {
				a.status, a.hello, a.crypto = Done, append([]byte(nil), hello...), stream{}
				return Done
			}
			return a.fail()
		}
	}
	if first && !opened || a.datagrams >= maxQUICDatagrams {
		// The flow's first datagram is no client Initial we can read.
		return a.fail()
	}
	return NeedMore
}

// open decrypts an Initial with the keys of the first Destination
// Connection ID seen, or, failing that, with keys of this packet's.
func (a *QUICAssembler) open(v quicVersion, p longPacket) ([]byte, bool) {
	if a.keys != nil {
		if payload, ok := a.keys.open(p); ok {
			return payload, true
		}
		if string(a.keys.dcid) == string(p.dcid) {
			return nil, false
		}
	}
	for _, salt := range [][]byte{v.salt, v.altSalt} {
		if salt == nil {
			continue
		}
		v.salt = salt
		k := newInitialKeys(v, p.dcid)
		if k == nil {
			continue
		}
		if payload, ok := k.open(p); ok {
			a.keys, a.version = k, p.version
			return payload, true
		}
	}
	return nil, false
}

func (a *QUICAssembler) fail() Status {
	a.status, a.keys, a.crypto = Failed, nil, stream{}
	return Failed
}
