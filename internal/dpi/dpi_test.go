//go:build cgo

package dpi

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/testing/testgen"
)

// ipHex turns a tcpdump -x dump (offsets optional) into bytes.
func ipHex(tb testing.TB, dump string) []byte { return testgen.HexDump(tb, dump) }

// oneFlow turns the dumps of one flow into packets 1 ms apart.
func oneFlow(tb testing.TB, dumps ...string) []ipPacket {
	tb.Helper()
	pkts := make([]ipPacket, len(dumps))
	for i, d := range dumps {
		pkts[i] = ipPacket{ip: ipHex(tb, d), ms: 1700000000000 + uint64(i)}
	}
	return pkts
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestVersion(t *testing.T) {
	if v := Version(); !strings.HasPrefix(v, "4.2") {
		t.Errorf("Version() = %q, want nDPI 4.2.x (Debian's libndpi-dev)", v)
	}
}

func TestDNS(t *testing.T) {
	e := newEngine(t)
	f := e.NewFlow()
	defer e.FreeFlow(&f)
	q, r := ipHex(t, dnsQuery), ipHex(t, dnsResponse)

	p := e.Process(f, q, 1000)
	if p.App != 5 || p.AppUnknown() {
		t.Fatalf("after the query: %+v, want app DNS (5)", p)
	}
	if !e.ExtraDissectionPossible(f) {
		t.Error("after the query nDPI should still want the response")
	}
	p = e.Process(f, r, 1001)
	if e.ExtraDissectionPossible(f) {
		t.Error("after the response nDPI should be done")
	}
	got := e.Collect(f, p)
	want := Info{Application: "DNS", Category: "Network", Confidence: 6, RequestedServerName: "www.example.com"}
	if got != want {
		t.Errorf("Collect = %+v\nwant      %+v", got, want)
	}
}

func TestHTTP(t *testing.T) {
	e := newEngine(t)
	pkts := oneFlow(t, httpSYN, httpSYNACK, httpACK, httpGET, httpServerACK, httpOK, httpACK2)
	d := dissect(e, pkts, 1, 20)[0]
	want := Info{
		Application:         "HTTP",
		Category:            "Web",
		Confidence:          6,
		RequestedServerName: "www.example.com",
		UserAgent:           "nfstream-test/1.0",
		// nDPI keeps the media type only: "; charset=UTF-8" is cut.
		ContentType: "text/html",
	}
	if d.Info != want || d.Guessed {
		t.Errorf("got %+v (guessed %v)\nwant %+v", d.Info, d.Guessed, want)
	}
	// Identified on the GET, then dissected up to the response; the last
	// ACK is not dissected (early completion).
	if d.Fed != 6 {
		t.Errorf("%d packets reached nDPI, want 6", d.Fed)
	}
}

func TestHTTPNoServerACK(t *testing.T) {
	// nDPI 4.2 quirk: when the response follows the request with no empty
	// server segment in between, the status code is read but Content-Type
	// is not (ndpiReader 4.2 shows the same). Captures of real servers
	// mostly have that ACK (exe_download.pcap, http_auth.pcap). If this test
	// fails, the linked nDPI behaves differently: review the HTTP columns.
	e := newEngine(t)
	pkts := oneFlow(t, httpSYN, httpSYNACK, httpACK, httpGET, httpOK, httpACK2)
	d := dissect(e, pkts, 1, 20)[0]
	if d.Application != "HTTP" || d.UserAgent != "nfstream-test/1.0" || d.ContentType != "" {
		t.Errorf("got %+v", d.Info)
	}
}

func TestTLSClientHello(t *testing.T) {
	e := newEngine(t)
	pkts := oneFlow(t, tlsSYN, tlsSYNACK, tlsACK, tlsClientHello, tlsServerHello)
	d := dissect(e, pkts, 1, 20)[0]
	// JA3 and JA3S computed from the hellos as described at
	// github.com/salesforce/ja3: version, ciphers, extensions, groups and
	// point formats; version, cipher, extensions.
	want := Info{
		Application:         "TLS",
		Category:            "Web",
		Confidence:          6,
		RequestedServerName: "www.nfstream.example",
		ClientFingerprint:   md5Hex("771,4865-4866-49195-49199-158,0-10-11-13,29-23-24,0"),
		ServerFingerprint:   md5Hex("771,49199,65281-11"),
	}
	if d.Info != want || d.Guessed {
		t.Errorf("got %+v (guessed %v)\nwant %+v", d.Info, d.Guessed, want)
	}
	if d.Proto.App != protoTLS {
		t.Errorf("protocol %+v, want app TLS", d.Proto)
	}
}

func TestSSHHASSH(t *testing.T) {
	e := newEngine(t)
	pkts := oneFlow(t, sshSYN, sshSYNACK, sshACK, sshClientBanner, sshServerBanner, sshClientKexinit, sshServerKexinit)
	d := dissect(e, pkts, 1, 20)[0]
	// HASSH (github.com/salesforce/hassh): MD5 of kex;ciphers;MACs;
	// compression from each side's KEXINIT. nDPI prints it in upper case.
	want := Info{
		Application:       "SSH",
		Category:          "RemoteAccess",
		Confidence:        6,
		ClientFingerprint: strings.ToUpper(md5Hex("curve25519-sha256,diffie-hellman-group14-sha256;aes128-ctr,aes256-gcm@openssh.com;hmac-sha2-256;none")),
		ServerFingerprint: strings.ToUpper(md5Hex("curve25519-sha256;aes256-gcm@openssh.com,aes128-ctr;hmac-sha2-512,hmac-sha2-256;none,zlib@openssh.com")),
	}
	if d.Info != want || d.Guessed {
		t.Errorf("got %+v (guessed %v)\nwant %+v", d.Info, d.Guessed, want)
	}
}

func TestGiveUpGuessesByPort(t *testing.T) {
	for _, tc := range []struct {
		name, dump string
		app        uint16
		info       Info
	}{
		{"TCP SYN to 443", syn443, protoTLS, Info{Application: "TLS", Category: "Web", Confidence: 1}},
		{"UDP junk to 53", junk53, 5, Info{Application: "DNS", Category: "Network", Confidence: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			f := e.NewFlow()
			defer e.FreeFlow(&f)
			if p := e.Process(f, ipHex(t, tc.dump), 1000); !p.AppUnknown() {
				t.Fatalf("Process identified %+v; the test needs an unknown flow", p)
			}
			p, guessed := e.GiveUp(f)
			if !guessed || p.App != tc.app {
				t.Errorf("GiveUp = %+v, guessed %v; want app %d guessed", p, guessed, tc.app)
			}
			if got := e.Collect(f, p); got != tc.info {
				t.Errorf("Collect = %+v, want %+v", got, tc.info)
			}
		})
	}
}

func TestUnknownFlow(t *testing.T) {
	// A flow nDPI cannot identify and cannot guess: a protocol with no
	// ports (IP protocol 253, reserved for experiments) between private
	// addresses.
	ip := ipHex(t, syn443)
	ip[9] = 253
	e := newEngine(t)
	f := e.NewFlow()
	defer e.FreeFlow(&f)
	e.Process(f, ip, 1000)
	p, guessed := e.GiveUp(f)
	if guessed || !p.AppUnknown() {
		t.Errorf("GiveUp = %+v guessed %v, want unknown and not guessed", p, guessed)
	}
	want := Info{Application: "Unknown", Category: "Unspecified"}
	if got := e.Collect(f, p); got != want {
		t.Errorf("Collect = %+v, want %+v", got, want)
	}
}

func TestConfidenceMapping(t *testing.T) {
	// nDPI 4.2 ndpi_confidence_t -> NFStream's numbering (docs/compatibility.md item 7).
	for in, want := range map[uint32]uint8{0: 0, 1: 1, 2: 7, 3: 5, 4: 6, 5: 5, 9: 9} {
		if got := nfstreamConfidence(in); got != want {
			t.Errorf("nfstreamConfidence(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestCollectBranches(t *testing.T) {
	// The branch is chosen from the Protocol passed in, master or app:
	// give the DNS flow's state other protocols and see which fields come.
	e := newEngine(t)
	f := e.NewFlow()
	defer e.FreeFlow(&f)
	e.Process(f, ipHex(t, dnsQuery), 1000)
	for _, tc := range []struct {
		p    Protocol
		name string
	}{
		{Protocol{Master: protoTLS, App: 119, Category: 6}, "TLS.Facebook"},
		{Protocol{Master: 0, App: protoQUIC, Category: 5}, "QUIC"},
		{Protocol{Master: protoHTTP, App: 126, Category: 5}, "HTTP.Google"},
		{Protocol{Master: protoDHCP, App: protoDHCP, Category: 14}, "DHCP"},
		{Protocol{Master: 5, App: 0, Category: 14}, "DNS"},
		{Protocol{}, "Unknown"},
	} {
		got := e.Collect(f, tc.p)
		if got.Application != tc.name {
			t.Errorf("%+v: application %q, want %q", tc.p, got.Application, tc.name)
		}
		// The DNS query left host_server_name set; every branch reports it.
		if got.RequestedServerName != "www.example.com" {
			t.Errorf("%+v: server name %q", tc.p, got.RequestedServerName)
		}
	}
}

func TestCategoryCopiedAs24Bytes(t *testing.T) {
	// NFStream memcpy's 24 bytes of the category name: nDPI 4.2's custom
	// category labels are 22 bytes and fit; an invalid category gives
	// nDPI's "Invalid category N" text, cut at 24 bytes.
	e := newEngine(t)
	f := e.NewFlow()
	defer e.FreeFlow(&f)
	for cat, want := range map[uint32]string{
		0: "Unspecified", 6: "SocialNetwork", 20: "User custom category 1",
		1000000: "Invalid category 100000",
	} {
		got := e.Collect(f, Protocol{Category: cat}).Category
		if got != want {
			t.Errorf("category %d: %q, want %q", cat, got, want)
		}
		if len(got) > categoryCopyLen {
			t.Errorf("category %d: %q is longer than %d bytes", cat, got, categoryCopyLen)
		}
	}
}

func TestLengthTruncatedLikeC(t *testing.T) {
	// The length goes to nDPI as unsigned short: 65536 bytes arrive as 0
	// (nothing to see), 65536+61 as the 61-byte DNS query.
	q := ipHex(t, dnsQuery)
	e := newEngine(t)
	for _, tc := range []struct {
		size    int
		unknown bool
	}{{65536, true}, {65536 + len(q), false}} {
		ip := make([]byte, tc.size)
		copy(ip, q)
		f := e.NewFlow()
		p := e.Process(f, ip, 1000)
		e.FreeFlow(&f)
		if p.AppUnknown() != tc.unknown {
			t.Errorf("%d bytes: %+v, want unknown=%v", tc.size, p, tc.unknown)
		}
	}
}

func TestZeroFlowAndClosedEngine(t *testing.T) {
	e := newEngine(t)
	var zero Flow
	if zero.Valid() {
		t.Fatal("zero Flow is valid")
	}
	q := ipHex(t, dnsQuery)
	if p := e.Process(zero, q, 1); p != (Protocol{}) {
		t.Errorf("Process(zero) = %+v", p)
	}
	if e.ExtraDissectionPossible(zero) {
		t.Error("ExtraDissectionPossible(zero) = true")
	}
	if p, g := e.GiveUp(zero); p != (Protocol{}) || g {
		t.Errorf("GiveUp(zero) = %+v, %v", p, g)
	}
	if i := e.Collect(zero, Protocol{App: 5}); i != (Info{}) {
		t.Errorf("Collect(zero) = %+v", i)
	}
	e.FreeFlow(&zero)
	e.FreeFlow(nil)

	// Short and empty packets reach nDPI without harm.
	f := e.NewFlow()
	if !f.Valid() {
		t.Fatal("NewFlow returned the zero Flow")
	}
	for _, ip := range [][]byte{nil, {}, q[:1], q[:19], q[:20], q[:28]} {
		if p := e.Process(f, ip, 2); !p.AppUnknown() {
			t.Errorf("%d bytes identified as %+v", len(ip), p)
		}
	}
	g := f
	e.FreeFlow(&f)
	if f.Valid() {
		t.Error("FreeFlow left the Flow valid")
	}
	_ = g // a copy of a freed Flow must not be used; it is only dropped here

	// A flow outlives Close for FreeFlow; everything else is inert.
	f = e.NewFlow()
	e.Close()
	e.Close()
	if p := e.Process(f, q, 3); p != (Protocol{}) {
		t.Errorf("Process after Close = %+v", p)
	}
	if nf := e.NewFlow(); nf.Valid() {
		t.Error("NewFlow after Close returned a flow")
	}
	e.FreeFlow(&f)
	var nilEngine *Engine
	nilEngine.Close()
}

func TestNoGoAllocations(t *testing.T) {
	e := newEngine(t)
	q, r := ipHex(t, dnsQuery), ipHex(t, dnsResponse)
	f := e.NewFlow()
	defer e.FreeFlow(&f)
	var ms uint64
	if n := testing.AllocsPerRun(1000, func() {
		ms++
		e.Process(f, q, ms)
		e.Process(f, r, ms)
	}); n != 0 {
		t.Errorf("Process: %v allocations per run", n)
	}
	if n := testing.AllocsPerRun(1000, func() { e.ExtraDissectionPossible(f) }); n != 0 {
		t.Errorf("ExtraDissectionPossible: %v allocations per run", n)
	}
	if n := testing.AllocsPerRun(1000, func() { e.GiveUp(f) }); n != 0 {
		t.Errorf("GiveUp: %v allocations per run", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		g := e.NewFlow()
		e.FreeFlow(&g)
	}); n != 0 {
		t.Errorf("NewFlow+FreeFlow: %v allocations per run", n)
	}
	// Collect allocates the per-flow strings only (here the server name);
	// application and category names are interned.
	p := e.Process(f, q, ms+1)
	e.Collect(f, p)
	if n := testing.AllocsPerRun(1000, func() { e.Collect(f, p) }); n != 1 {
		t.Errorf("Collect of a DNS flow: %v allocations per run, want 1 (the server name)", n)
	}
	if n := testing.AllocsPerRun(1000, func() { e.Collect(f, Protocol{Category: 6}) }); n != 1 {
		t.Errorf("Collect of an unknown flow: %v allocations per run, want 1", n)
	}
}

func TestEnginesAreIndependent(t *testing.T) {
	// One Engine per goroutine, as meters use them; under -race this also
	// checks the Go side shares nothing unguarded.
	pkts := oneFlow(t, tlsSYN, tlsSYNACK, tlsACK, tlsClientHello, tlsServerHello)
	want := dissect(newEngine(t), pkts, 1, 20)[0].Info
	const n = 4
	got := make(chan Info, n)
	for range n {
		go func() {
			e, err := New()
			if err != nil {
				t.Error(err)
				got <- Info{}
				return
			}
			defer e.Close()
			var last Info
			for range 50 {
				last = dissect(e, pkts, 1, 20)[0].Info
			}
			got <- last
		}()
	}
	for range n {
		if i := <-got; i != want {
			t.Errorf("concurrent engine: %+v, want %+v", i, want)
		}
	}
}
