package ja4

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// genFlow is one flow of the generated capture.
type genFlow struct {
	name  string
	key   string // dirKey of the client's direction
	hello []byte
	proto byte
	want  string // the fingerprint, when known from the spec
}

// writeGenerated writes a capture of hand-built flows: TLS 1.2, TLS 1.3
// with GREASE, a ClientHello split over two TCP segments in and out of
// order (with and without the SYN in the capture), QUIC v1 Initials (one
// packet, two packets, CRYPTO frames out of order), QUIC v2, and the client
// Initials of RFC 9001 A.2 and RFC 9369 A.2. It returns the flows.
func writeGenerated(t testing.TB, path string) []genFlow {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	write := func(frame []byte) {
		ts = ts.Add(time.Millisecond)
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame)}
		if err := w.WritePacket(ci, frame); err != nil {
			t.Fatal(err)
		}
	}
	tls12 := hello{version: 0x0303,
		ciphers: []uint16{0xc02f, 0xc030, 0x009e, 0xc013, 0x002f, 0x00ff},
		exts:    []ext{sniExt("tls12.example"), emptyExt(0x0017), rawExt(0xff01, []byte{0}), sigExt(0x0601, 0x0501, 0x0401, 0x0201), alpnExt("http/1.1")},
	}.bytes()
	tls13 := specHello(true).bytes()
	var flows []genFlow
	tcpFlow := func(name string, cport uint16, hs []byte, syn bool, order []int, cuts ...int) {
		const cisn, sisn = 1000, 5000
		if syn {
			write(tcpFrame(t, true, cport, cisn, 0, true, nil))
			write(tcpFrame(t, false, cport, sisn, cisn+1, true, nil))
			write(tcpFrame(t, true, cport, cisn+1, sisn+1, false, nil))
		}
		rec := records(hs, 1<<14)
		type seg struct {
			off  int
			data []byte
		}
		var segs []seg
		prev := 0
		for _, c := range append(cuts, len(rec)) {
			segs = append(segs, seg{prev, rec[prev:c]})
			prev = c
		}
		for _, i := range order {
			write(tcpFrame(t, true, cport, cisn+1+uint32(segs[i].off), sisn+1, false, segs[i].data))
		}
		flows = append(flows, genFlow{name: name, key: dirKey('t', clientIP, int(cport), serverIP, 443), hello: hs, proto: TCP})
	}
	tcpFlow("TLS 1.2", 40001, tls12, true, []int{0})
	tcpFlow("TLS 1.3 with GREASE", 40002, tls13, true, []int{0})
	tcpFlow("two segments", 40003, tls13, true, []int{0, 1}, 150)
	tcpFlow("two segments out of order", 40004, tls13, true, []int{1, 0}, 150)
	tcpFlow("two segments out of order, no SYN", 40005, tls13, false, []int{1, 0}, 20)
	flows[1].want = specFP
	quicFlow := func(name string, cport uint16, version uint32, cuts []int, groups [][]int) {
		dcid := []byte{0xc0, 0xff, 0xee, byte(cport >> 8), byte(cport), 1, 2, 3}
		for _, d := range quicDatagrams(t, version, dcid, tls13, cuts, groups, 0) {
			write(udpFrame(t, cport, d))
		}
		flows = append(flows, genFlow{name: name, key: dirKey('q', clientIP, int(cport), serverIP, 443), hello: tls13, proto: QUIC,
			want: "q13d1516h2_8daaf6152771_e5627efa2ab1"})
	}
	quicFlow("QUIC v1", 50001, QUICv1, nil, [][]int{{0}})
	quicFlow("QUIC v1, two Initial packets", 50002, QUICv1, []int{120}, [][]int{{0}, {1}})
	quicFlow("QUIC v1, CRYPTO frames out of order", 50003, QUICv1, []int{60, 130}, [][]int{{2, 1, 0}})
	quicFlow("QUIC v2", 50004, QUICv2, nil, [][]int{{0}})
	// The RFCs' own protected client Initials, as datagrams.
	for i, v := range []map[string][]byte{rfcA2(t), vectors(t, "testdata/rfc9369_a2.txt")} {
		cport := uint16(50005 + i)
		write(udpFrame(t, cport, v["protected"]))
		a2 := rfcA2(t)["payload"]
		flows = append(flows, genFlow{name: []string{"RFC 9001 A.2", "RFC 9369 A.2"}[i], key: dirKey('q', clientIP, int(cport), serverIP, 443),
			hello: a2[4 : 4+0xf1], proto: QUIC, want: "q13d0211an_62ed6f6ca7ad_4d634acda6c0"})
	}
	return flows
}

// TestGeneratedCapture writes the hand-built capture, runs the package
// over it as a plugin would, and compares with the fingerprint of the
// built hello, with the spec's value where there is one, and with tshark
// (decoded fields assembled by specJA4) when tshark is installed.
func TestGeneratedCapture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "generated.pcap")
	flows := writeGenerated(t, path)
	got, _ := captureJA4(t, path)
	if len(got) != len(flows) {
		t.Errorf("%d ClientHellos found, want %d: %v", len(got), len(flows), got)
	}
	for _, f := range flows {
		want, err := Fingerprint(f.hello, f.proto)
		if err != nil {
			t.Fatal(err)
		}
		if f.want != "" && want != f.want {
			t.Errorf("%s: built hello gives %s, want %s", f.name, want, f.want)
		}
		if got[f.key] != want {
			t.Errorf("%s: %s, want %s", f.name, got[f.key], want)
		}
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: no tshark comparison")
		return
	}
	tshark := needTshark(t)
	seen := map[string]bool{}
	for _, h := range tsharkHellos(t, tshark, path) {
		if seen[h.key] {
			continue
		}
		seen[h.key] = true
		if ts := specJA4(h.key[0], h); ts != got[h.key] {
			t.Errorf("%s: tshark %s, package %s", h.key, ts, got[h.key])
		}
	}
	for _, f := range flows {
		switch f.key {
		case dirKey('t', clientIP, 40005, serverIP, 443):
			// Without the SYN tshark takes the first segment seen as the
			// stream's start and never places the earlier one before it.
			continue
		case dirKey('q', clientIP, 50006, serverIP, 443):
			// tshark follows QUIC connections by connection ID: the RFC 9369
			// packet has the RFC 9001 one's, so tshark takes it for a v1
			// packet of that connection.
			continue
		}
		if !seen[f.key] {
			t.Errorf("%s: tshark found no ClientHello", f.name)
		}
	}
	t.Logf("%d generated ClientHellos agree with tshark", len(seen))
}
