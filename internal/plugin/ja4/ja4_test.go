package ja4

import (
	"errors"
	"strings"
	"testing"
)

// specHello is the ClientHello of the JA4 specification's example
// (https://github.com/FoxIO-LLC/ja4/blob/main/technical_details/JA4.md, sections "Cipher hash", "Extension hash" and
// "Example"): its ciphers, extensions and signature algorithms in their
// original order, TLS 1.3 in supported_versions, SNI, ALPN h2.
func specHello(grease bool) hello {
	ciphers := []uint16{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
	sigs := []uint16{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601}
	var exts []ext
	for _, typ := range []uint16{0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015} {
		switch typ {
		case 0x0000:
			exts = append(exts, sniExt("example.com"))
		case 0x0010:
			exts = append(exts, alpnExt("h2", "http/1.1"))
		case 0x000d:
			exts = append(exts, sigExt(sigs...))
		case 0x002b:
			if grease {
				exts = append(exts, versionsExt(0x7a7a, 0x0304, 0x0303))
			} else {
				exts = append(exts, versionsExt(0x0304, 0x0303))
			}
		default:
			exts = append(exts, rawExt(typ, plausible[typ]))
		}
	}
	if grease { // GREASE as browsers send it: first cipher, first and last extension
		ciphers = append([]uint16{0x3a3a}, ciphers...)
		exts = append([]ext{emptyExt(0x9a9a)}, exts...)
		exts = append(exts, rawExt(0xdada, []byte{0}))
	}
	return hello{version: 0x0303, ciphers: ciphers, exts: exts}
}

// plausible holds well-formed contents for the other extensions of
// specHello, so that tshark decodes it without complaint.
var plausible = map[uint16][]byte{
	0x001b: with8(u16s(2)),                                        // compress_certificate: brotli
	0x0033: with16(append(u16s(0x001d, 32), make([]byte, 32)...)), // key_share: x25519
	0x4469: with16(with8([]byte("h2"))),                           // application_settings
	0x002d: {1, 1},                                                // psk_key_exchange_modes
	0x0005: {1, 0, 0, 0, 0},                                       // status_request: OCSP
	0xff01: {0},                                                   // renegotiation_info
	0x000b: {1, 0},                                                // ec_point_formats
	0x000a: with16(u16s(0x001d, 0x0017)),                          // supported_groups
	0x0015: make([]byte, 8),                                       // padding
}

// TestSpecExample reproduces the JA4 specification's worked example
// (https://github.com/FoxIO-LLC/ja4/blob/main/technical_details/JA4.md, section "Example" and "Raw Output").
func TestSpecExample(t *testing.T) {
	for _, grease := range []bool{false, true} {
		ch, err := Parse(specHello(grease).bytes(), TCP)
		if err != nil {
			t.Fatal(err)
		}
		checks := []struct{ name, got, want string }{
			// The JA4 specification, "Example": JA4 = t13d1516h2_8daaf6152771_e5627efa2ab1
			{"JA4", ch.JA4(TCP), "t13d1516h2_8daaf6152771_e5627efa2ab1"},
			// The JA4 specification, "Raw Output": JA4_r
			{"JA4_r", ch.Raw(TCP, false), "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"},
			// The JA4 specification, "Raw Output": JA4_ro
			{"JA4_ro", ch.Raw(TCP, true), "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015_0403,0804,0401,0503,0805,0501,0806,0601"},
			// The JA4 specification, "Raw Output": JA4_o = t13d1516h2_acb858a92679_18f69afefd3d
			{"JA4_o", ch.JA4Original(TCP), "t13d1516h2_acb858a92679_18f69afefd3d"},
			{"JA4 over QUIC", ch.JA4(QUIC), "q13d1516h2_8daaf6152771_e5627efa2ab1"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("grease=%v %s = %s, want %s", grease, c.name, c.got, c.want)
			}
		}
		fp, err := Fingerprint(specHello(grease).bytes(), TCP)
		if err != nil || fp != "t13d1516h2_8daaf6152771_e5627efa2ab1" {
			t.Errorf("Fingerprint = %q, %v", fp, err)
		}
	}
}

// TestSpecHashes checks the spec's intermediate hashes: the sorted cipher
// list = 8daaf6152771 ("Cipher hash") and the extension list without
// signature algorithms = 6d807ffa2a79 ("Extension hash").
func TestSpecHashes(t *testing.T) {
	if got := hash12("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"); got != "8daaf6152771" {
		t.Errorf("cipher hash %s", got)
	}
	if got := hash12("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01"); got != "6d807ffa2a79" {
		t.Errorf("extension hash %s", got)
	}
	// The same through a ClientHello whose signature_algorithms list is
	// empty: "If there are no signature algorithms in the hello packet,
	// then the string ends without an underscore and is hashed."
	h := specHello(false)
	for i, e := range h.exts {
		if e.typ == 0x000d {
			h.exts[i] = sigExt()
		}
	}
	fp, err := Fingerprint(h.bytes(), TCP)
	if err != nil || fp != "t13d1516h2_8daaf6152771_6d807ffa2a79" {
		t.Errorf("no signature algorithms: %q, %v", fp, err)
	}
}

// TestALPN checks the spec's ALPN rules ("ALPN Extension Value"), its
// table of non-alphanumeric examples included.
func TestALPN(t *testing.T) {
	cases := []struct {
		alpn []string
		want string
	}{
		{nil, "00"},
		{[]string{""}, "00"},
		{[]string{"h2"}, "h2"},
		{[]string{"http/1.1", "h2"}, "h1"},
		{[]string{"h3"}, "h3"},
		{[]string{"x"}, "xx"},
		{[]string{"\xab"}, "ab"},
		{[]string{"\x20"}, "20"},
		{[]string{"\xab\xcd"}, "ad"},
		{[]string{"\x20\x61"}, "21"},
		{[]string{"\x30\xab"}, "3b"},
		{[]string{"\x61\x20"}, "60"},
		{[]string{"\x30\x31\xab\xcd"}, "3d"},
		{[]string{"\x30\xab\xcd\x31"}, "01"},
	}
	for _, c := range cases {
		if got := alpnCode(c.alpn); got != c.want {
			t.Errorf("alpnCode(%q) = %s, want %s", c.alpn, got, c.want)
		}
	}
	// Through a ClientHello: no ALPN extension, and an empty ALPN list.
	for _, exts := range [][]ext{{sniExt("a.b")}, {sniExt("a.b"), alpnExt()}} {
		fp, err := Fingerprint(hello{ciphers: []uint16{0x1301}, exts: exts}.bytes(), TCP)
		if err != nil || !strings.HasPrefix(fp, "t12d01") || fp[8:10] != "00" {
			t.Errorf("%v: %s %v", exts, fp, err)
		}
	}
}

func TestVersionSNICounts(t *testing.T) {
	many := make([]uint16, 120)
	for i := range many {
		many[i] = uint16(0x0100 + i)
	}
	manyExts := make([]ext, 0, 101)
	for i := range 101 {
		manyExts = append(manyExts, emptyExt(uint16(0x1000+i)))
	}
	cases := []struct {
		name string
		h    hello
		want string // JA4_a or the whole fingerprint
	}{
		{"TLS 1.2, no extensions block", hello{version: 0x0303, ciphers: []uint16{0xc02f, 0x009c}, noExtBlock: true}, "t12i0200"},
		{"TLS 1.0", hello{version: 0x0301, ciphers: []uint16{0x002f}, exts: []ext{sniExt("x.org")}}, "t10d0101"},
		{"SSL 3.0", hello{version: 0x0300, ciphers: []uint16{0x002f}, noExtBlock: true}, "ts3i0100"},
		{"unknown version", hello{version: 0x0305, ciphers: []uint16{0x002f}, noExtBlock: true}, "t00i0100"},
		{"supported_versions wins, GREASE ignored", hello{version: 0x0303, ciphers: []uint16{0x1301}, exts: []ext{versionsExt(0xfafa, 0x0303, 0x0304)}}, "t13i0101"},
		{"supported_versions only GREASE", hello{version: 0x0303, ciphers: []uint16{0x1301}, exts: []ext{versionsExt(0x0a0a)}}, "t12i0101"},
		{"SNI present but empty still d", hello{ciphers: []uint16{0x1301}, exts: []ext{rawExt(0, nil)}}, "t12d0101"},
		{"counts capped at 99", hello{ciphers: many, exts: manyExts}, "t12i9999"},
		{"GREASE not counted", hello{ciphers: []uint16{0x0a0a, 0x1301, 0xfafa}, exts: []ext{emptyExt(0x2a2a), emptyExt(0x0017)}}, "t12i0101"},
		{"SCSV counted", hello{ciphers: []uint16{0x1301, 0x00ff, 0x5600, 0xfe01}, noExtBlock: true}, "t12i0400"},
		// "If there are no ciphers ... JA4_b is set to 000000000000";
		// no extensions: JA4_c is 000000000000.
		{"no ciphers, no extensions", hello{noExtBlock: true}, "t12i000000_000000000000_000000000000"},
		// Only SNI and ALPN: the sorted extension list is empty.
		{"only SNI and ALPN", hello{ciphers: []uint16{0x1301}, exts: []ext{sniExt("a.b"), alpnExt("h2")}}, "t12d0102h2_" + hash12("1301") + "_000000000000"},
		// Extensions but no signature_algorithms: no underscore.
		{"no signature algorithms", hello{ciphers: []uint16{0x1301}, exts: []ext{emptyExt(0x0017), emptyExt(0x000a)}}, "t12i010200_" + hash12("1301") + "_" + hash12("000a,0017")},
		{"GREASE signature algorithm ignored", hello{ciphers: []uint16{0x1301}, exts: []ext{sigExt(0x0a0a, 0x0403)}}, "t12i010100_" + hash12("1301") + "_" + hash12("000d_0403")},
	}
	for _, c := range cases {
		fp, err := Fingerprint(c.h.bytes(), TCP)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !strings.HasPrefix(fp, c.want) {
			t.Errorf("%s: %s, want %s...", c.name, fp, c.want)
		}
	}
}

func TestGREASE(t *testing.T) {
	n := 0
	for v := range 1 << 16 {
		if IsGREASE(uint16(v)) {
			n++
			if v&0xff != 0x0a&0x0f|v&0xf0 || v>>8 != v&0xff {
				t.Errorf("%#04x", v)
			}
		}
	}
	if n != 16 {
		t.Errorf("%d GREASE values, want 16", n)
	}
}

func TestParseErrors(t *testing.T) {
	good := specHello(true).bytes()
	for _, bad := range [][]byte{
		nil,
		{2, 0, 0, 0}, // ServerHello
		good[:10],    // truncated
		good[:len(good)-1],
		append([]byte{1, 0, 0, 3}, 3, 3, 0), // body too short
	} {
		if _, err := Fingerprint(bad, TCP); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: %v", bad, err)
		}
	}
	// Trailing bytes after the message are ignored.
	if fp, err := Fingerprint(append(good, 0x16, 0x03), TCP); err != nil || fp != "t13d1516h2_8daaf6152771_e5627efa2ab1" {
		t.Errorf("trailing bytes: %s %v", fp, err)
	}
}

// TestDTLS checks that a DTLS ClientHello (12-byte handshake header, a
// cookie) is parsed with transport 'd'.
func TestDTLS(t *testing.T) {
	h := hello{version: 0xfefd, ciphers: []uint16{0xc02b}, exts: []ext{versionsExt(0xfefc, 0xfefd), sniExt("a.b")}}.bytes()
	body := h[4:]
	// DTLS body: version, random, session id, then the cookie.
	var dbody []byte
	dbody = append(dbody, body[:2+32+1+32]...)
	dbody = append(dbody, 2, 0xaa, 0xbb)
	dbody = append(dbody, body[2+32+1+32:]...)
	n := len(dbody)
	msg := []byte{1, byte(n >> 16), byte(n >> 8), byte(n), 0, 0, 0, 0, 0, byte(n >> 16), byte(n >> 8), byte(n)}
	msg = append(msg, dbody...)
	fp, err := Fingerprint(msg, DTLS)
	if err != nil || !strings.HasPrefix(fp, "dd3d0102") {
		t.Errorf("%s %v", fp, err)
	}
}
