package ja4

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

const specFP = "t13d1516h2_8daaf6152771_e5627efa2ab1"

func TestTCPAssembler(t *testing.T) {
	msg := specHello(true).bytes()
	recs := records(msg, 100) // several records too
	one := records(msg, 1<<14)
	const isn = 0xfffffff0 // sequence numbers wrap inside the hello
	type seg struct {
		off  int
		data []byte
	}
	split := func(b []byte, at ...int) []seg {
		var out []seg
		prev := 0
		for _, a := range append(at, len(b)) {
			out = append(out, seg{prev, b[prev:a]})
			prev = a
		}
		return out
	}
	cases := []struct {
		name string
		syn  bool
		segs []seg
	}{
		{"one segment", false, split(one)},
		{"one segment after SYN", true, split(one)},
		{"two segments", false, split(one, 3)},
		{"two segments out of order", false, func() []seg { s := split(one, 100); return []seg{s[1], s[0]} }()},
		{"two segments out of order after SYN", true, func() []seg { s := split(one, 100); return []seg{s[1], s[0]} }()},
		{"retransmission and overlap", false, func() []seg {
			s := split(one, 50, 120)
			return []seg{s[0], s[0], {30, one[30:130]}, s[2], s[1]}
		}()},
		{"records split across segments, reversed, after SYN", true, func() []seg {
			s := split(recs, 7, 60, 61, 200, 240)
			for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
				s[i], s[j] = s[j], s[i]
			}
			return s
		}()},
	}
	for _, c := range cases {
		var a TCPAssembler
		if c.syn {
			a.SYN(isn - 1)
		}
		var st Status
		for i, s := range c.segs {
			st = a.Feed(isn+uint32(s.off), s.data)
			if st == Done && i != len(c.segs)-1 && c.name != "retransmission and overlap" {
				t.Errorf("%s: Done after segment %d of %d", c.name, i+1, len(c.segs))
			}
		}
		if st != Done {
			t.Errorf("%s: %v", c.name, st)
			continue
		}
		if !bytes.Equal(a.Hello(), msg) {
			t.Errorf("%s: hello differs", c.name)
		}
		if fp, err := Fingerprint(a.Hello(), TCP); fp != specFP {
			t.Errorf("%s: %s %v", c.name, fp, err)
		}
		if a.Feed(isn-9999, []byte{1}) != Done {
			t.Errorf("%s: status changed after Done", c.name)
		}
	}
}

func TestTCPAssemblerGivesUp(t *testing.T) {
	// Not TLS, stream start known: at once.
	var a TCPAssembler
	a.SYN(99)
	if st := a.Feed(100, []byte("GET / HTTP/1.1\r\n")); st != Failed {
		t.Errorf("HTTP after SYN: %v", st)
	}
	// Not TLS without SYN: after maxNoSYNWait segments.
	var b TCPAssembler
	var st Status
	for i := range maxNoSYNWait {
		st = b.Feed(uint32(100+16*i), []byte("GET / HTTP/1.1\r\n"))
	}
	if st != Failed {
		t.Errorf("HTTP without SYN: %v", st)
	}
	// A ServerHello (handshake type 2).
	var c TCPAssembler
	c.SYN(0)
	if st := c.Feed(1, records([]byte{2, 0, 0, 2, 3, 3}, 100)); st != Failed {
		t.Errorf("ServerHello: %v", st)
	}
	// A ClientHello announcing more than MaxHello.
	var d TCPAssembler
	d.SYN(0)
	if st := d.Feed(1, []byte{0x16, 3, 1, 0x40, 0, 1, 0, 0x50, 0}); st != Failed {
		t.Errorf("huge hello: %v", st)
	}
	// A hello never completed: bounded.
	var e TCPAssembler
	e.SYN(0)
	st = e.Feed(1, []byte{0x16, 3, 1, 0x40, 0, 1, 0, 0x3f, 0})
	for i := 0; st == NeedMore && i < 1000; i++ {
		st = e.Feed(uint32(100000+i*1000), make([]byte, 1000)) // never contiguous
	}
	if st != Failed {
		t.Errorf("unbounded: %v", st)
	}
}

// rfcA2 reads testdata/rfc9001_a2.txt.
func rfcA2(t testing.TB) map[string][]byte { return vectors(t, "testdata/rfc9001_a2.txt") }

// vectors reads a "name hex" file.
func vectors(t testing.TB, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	s := bufio.NewScanner(f)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), " ")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		b, err := hex.DecodeString(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = b
	}
	return out
}

// TestRFC9001Keys checks the derived client Initial keys against RFC 9001
// Appendix A.1.
func TestRFC9001Keys(t *testing.T) {
	v, _ := lookupVersion(QUICv1)
	dcid, _ := hex.DecodeString("8394c8f03e515708")
	key, iv, hp := clientInitialSecrets(v, dcid)
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"key", key, "1f369613dd76d5467730efcbe3b1a22d"},
		{"iv", iv, "fa044b2f42a3fd3b46fb255c"},
		{"hp", hp, "9f50449e04a0e810283a1e9933adedd2"},
	} {
		if hex.EncodeToString(c.got) != c.want {
			t.Errorf("%s = %x, want %s", c.name, c.got, c.want)
		}
	}
}

// TestRFC9001Packet decrypts RFC 9001 Appendix A.2's protected client
// Initial, and reproduces it byte for byte with the test generator's
// protection (so the generator used by the other QUIC tests is right).
func TestRFC9001Packet(t *testing.T) {
	a2 := rfcA2(t)
	payload := append(append([]byte(nil), a2["payload"]...), make([]byte, 1162-len(a2["payload"]))...)
	got := protectInitial(t, QUICv1, a2["dcid"], nil, 2, 4, payload)
	if !bytes.Equal(got, a2["protected"]) {
		t.Errorf("protected packet differs from RFC 9001 A.2")
	}
	// Up to the packet number, only the first byte is protected.
	if h := a2["header"]; !bytes.Equal(got[1:len(h)-4], h[1:len(h)-4]) {
		t.Errorf("header")
	}
	pkts := splitLong(a2["protected"])
	if len(pkts) != 1 {
		t.Fatalf("%d packets", len(pkts))
	}
	v, _ := lookupVersion(QUICv1)
	plain, ok := newInitialKeys(v, a2["dcid"]).open(pkts[0])
	if !ok || !bytes.Equal(plain, payload) {
		t.Fatalf("decryption of A.2 failed (%v)", ok)
	}
	var a QUICAssembler
	if st := a.Feed(a2["protected"]); st != Done {
		t.Fatalf("assembler: %v", st)
	}
	fp, err := Fingerprint(a.Hello(), QUIC)
	// A.2's hello: ciphers 1301 1302, 11 extensions, ALPN "alpn", TLS 1.3.
	if err != nil || fp != "q13d0211an_62ed6f6ca7ad_4d634acda6c0" {
		t.Errorf("A.2 fingerprint %s %v", fp, err)
	}
	t.Logf("RFC 9001 A.2 ClientHello: %s", fp)
}

// TestRFC9369 checks QUIC version 2 against RFC 9369 Appendix A: the
// client Initial keys (A.1), and the protected client Initial (A.2), which
// the generator reproduces byte for byte and the assembler reads.
func TestRFC9369(t *testing.T) {
	v2 := vectors(t, "testdata/rfc9369_a2.txt")
	a2 := rfcA2(t)
	v, _ := lookupVersion(QUICv2)
	key, iv, hp := clientInitialSecrets(v, a2["dcid"])
	if !bytes.Equal(key, v2["key"]) || !bytes.Equal(iv, v2["iv"]) || !bytes.Equal(hp, v2["hp"]) {
		t.Errorf("v2 keys %x %x %x", key, iv, hp)
	}
	payload := append(append([]byte(nil), a2["payload"]...), make([]byte, 1162-len(a2["payload"]))...)
	got := protectInitial(t, QUICv2, a2["dcid"], nil, 2, 4, payload)
	if !bytes.Equal(got, v2["protected"]) {
		t.Errorf("protected packet differs from RFC 9369 A.2")
	}
	var a QUICAssembler
	if st := a.Feed(v2["protected"]); st != Done || a.Version() != QUICv2 {
		t.Fatalf("assembler: %v, version %#x", st, a.Version())
	}
	if fp, err := Fingerprint(a.Hello(), QUIC); err != nil || fp != "q13d0211an_62ed6f6ca7ad_4d634acda6c0" {
		t.Errorf("%s %v", fp, err)
	}
}

// quicDatagrams builds the client Initial datagrams carrying msg: split in
// CRYPTO frames at the given offsets, frames of each packet in the order
// given by order (indices into the chunks), one packet per group.
// With overlap, each chunk also repeats the next chunk's first bytes.
func quicDatagrams(t testing.TB, version uint32, dcid []byte, msg []byte, cuts []int, groups [][]int, overlap int) [][]byte {
	var chunks [][]byte
	var offs []int
	prev := 0
	for _, c := range append(cuts, len(msg)) {
		chunks, offs = append(chunks, msg[prev:min(c+overlap, len(msg))]), append(offs, prev)
		prev = c
	}
	var out [][]byte
	for pn, g := range groups {
		var payload []byte
		for i, idx := range g {
			if i == 1 {
				payload = append(payload, 0x01) // PING in between
			}
			payload = append(payload, cryptoFrame(offs[idx], chunks[idx])...)
		}
		if pn > 0 {
			payload = append([]byte{0x02, 0x00, 0x00, 0x00, 0x00}, payload...) // an ACK frame
		}
		for len(payload) < 1162 { // PADDING to a 1200-byte datagram
			payload = append(payload, 0)
		}
		out = append(out, protectInitial(t, version, dcid, []byte{1, 2, 3, 4}, uint32(pn), 1+pn%4, payload))
	}
	return out
}

func TestQUICAssembler(t *testing.T) {
	msg := specHello(true).bytes()
	dcid := []byte{0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3}
	cases := []struct {
		name    string
		version uint32
		cuts    []int
		groups  [][]int
		reverse bool // datagrams in reverse order
		overlap int
	}{
		{"v1 one packet", QUICv1, nil, [][]int{{0}}, false, 0},
		{"v2 one packet", QUICv2, nil, [][]int{{0}}, false, 0},
		{"draft-29", 0xff00001d, nil, [][]int{{0}}, false, 0},
		{"draft-27", 0xff00001b, nil, [][]int{{0}}, false, 0},
		{"frames out of order in one packet", QUICv1, []int{40, 90}, [][]int{{2, 0, 1}}, false, 0},
		{"three packets", QUICv1, []int{100, 200}, [][]int{{0}, {1}, {2}}, false, 0},
		{"three packets reversed", QUICv1, []int{100, 200}, [][]int{{0}, {1}, {2}}, true, 0},
		{"v2 two packets, overlapping frames", QUICv2, []int{50, 100}, [][]int{{1, 2}, {0}}, false, 20},
	}
	for _, c := range cases {
		dg := quicDatagrams(t, c.version, dcid, msg, c.cuts, c.groups, c.overlap)
		if c.reverse {
			for i, j := 0, len(dg)-1; i < j; i, j = i+1, j-1 {
				dg[i], dg[j] = dg[j], dg[i]
			}
		}
		var a QUICAssembler
		var st Status
		for _, d := range dg {
			st = a.Feed(d)
		}
		if st != Done {
			t.Errorf("%s: %v", c.name, st)
			continue
		}
		if a.Version() != c.version {
			t.Errorf("%s: version %#x", c.name, a.Version())
		}
		if fp, err := Fingerprint(a.Hello(), QUIC); fp != "q13d1516h2_8daaf6152771_e5627efa2ab1" {
			t.Errorf("%s: %s %v", c.name, fp, err)
		}
	}
	// Coalesced: an Initial followed by a 0-RTT-looking packet and padding
	// in the same datagram.
	dg := quicDatagrams(t, QUICv1, dcid, msg, nil, [][]int{{0}}, 0)[0]
	dg = append(dg, 0xd0, 0, 0, 0, 1, 0, 0, 5, 1, 2, 3, 4, 5)
	var a QUICAssembler
	if st := a.Feed(dg); st != Done {
		t.Errorf("coalesced: %v", st)
	}
}

func TestQUICAssemblerGivesUp(t *testing.T) {
	for name, d := range map[string][]byte{
		"DNS":                 {0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0},
		"short header":        append([]byte{0x40}, make([]byte, 40)...),
		"unknown version":     append([]byte{0xc0, 0x0a, 0x0b, 0x0c, 0x0d, 0}, make([]byte, 40)...),
		"version negotiation": append([]byte{0xc0, 0, 0, 0, 0, 0}, make([]byte, 40)...),
		"corrupted Initial": func() []byte {
			d := quicDatagrams(t, QUICv1, []byte{1, 2, 3, 4}, specHello(false).bytes(), nil, [][]int{{0}}, 0)[0]
			d[100] ^= 1
			return d
		}(),
	} {
		var a QUICAssembler
		if st := a.Feed(d); st != Failed {
			t.Errorf("%s: %v", name, st)
		}
	}
	// A CRYPTO stream that is no ClientHello.
	var a QUICAssembler
	payload := append(cryptoFrame(0, []byte{2, 0, 0, 1, 0}), make([]byte, 1100)...)
	if st := a.Feed(protectInitial(t, QUICv1, []byte{9, 9, 9, 9}, nil, 0, 2, payload)); st != Failed {
		t.Errorf("ServerHello in CRYPTO: %v", st)
	}
}
