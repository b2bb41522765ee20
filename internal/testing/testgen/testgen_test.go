package testgen

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

const testdataDir = "../../../testdata"

// TestTestdataUpToDate regenerates every file and compares it with
// testdata/, so the committed captures never drift from the generator.
func TestTestdataUpToDate(t *testing.T) {
	dir := t.TempDir()
	names, err := WriteAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	made := map[string]bool{}
	for _, name := range names {
		made[name] = true
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(testdataDir, name))
		if err != nil {
			t.Errorf("%s: %v (run go run ./scripts/gencaptures)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/%s differs from the generator's output (run go run ./scripts/gencaptures)", name)
		}
	}
	// Expected-results files the generator no longer makes are stale, and
	// so are the captures beside them.
	ents, err := os.ReadDir(testdataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		base, ok := strings.CutSuffix(e.Name(), ".expected.json")
		if !ok || made[e.Name()] {
			continue
		}
		t.Errorf("testdata/%s is not made by the generator any more: remove it and its capture %s.pcap(ng)", e.Name(), base)
	}
}

// TestDeterministic builds every scenario twice.
func TestDeterministic(t *testing.T) {
	a, err := BuildAll()
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildAll()
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		ja, _ := a[i].ExpectedJSON()
		jb, _ := b[i].ExpectedJSON()
		if !bytes.Equal(a[i].File, b[i].File) || !bytes.Equal(ja, jb) {
			t.Errorf("%s: two builds differ", a[i].Scenario.Name)
		}
	}
}

// packetSource is what pcapgo's two readers have in common.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

func openCapture(t *testing.T, c *Capture) packetSource {
	t.Helper()
	r := bytes.NewReader(c.File)
	if c.Scenario.Format == PcapNG {
		ng, err := pcapgo.NewNgReader(r, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatalf("%s: %v", c.FileName(), err)
		}
		return ng
	}
	pr, err := pcapgo.NewReader(r)
	if err != nil {
		t.Fatalf("%s: %v", c.FileName(), err)
	}
	return pr
}

// decode decodes a frame with gopacket, from the IP header where gopacket
// has no decoder for the link type.
func decode(l Link, data []byte) gopacket.Packet {
	ip := func(b []byte) gopacket.Packet {
		if len(b) > 0 && b[0]>>4 == 6 {
			return gopacket.NewPacket(b, layers.LayerTypeIPv6, gopacket.Default)
		}
		return gopacket.NewPacket(b, layers.LayerTypeIPv4, gopacket.Default)
	}
	switch l {
	case LinkCiscoHDLC, LinkPPPCiscoHDLC:
		return ip(data[4:])
	case LinkIPv4, LinkIPv6, LinkRaw:
		return ip(data)
	case LinkSLL2:
		return gopacket.NewPacket(data, layers.LayerTypeLinuxSLL2, gopacket.Default)
	}
	return gopacket.NewPacket(data, layers.LinkType(l.LinkType()), gopacket.Default)
}

// TestReadBack reads every capture with gopacket's pcapgo readers: the
// record count, link type, lengths and timestamps must be what the
// scenario built, and gopacket's decoding of each counted frame must show
// the addresses, ports and IP length the expectation was computed from.
func TestReadBack(t *testing.T) {
	for _, s := range Catalog() {
		t.Run(s.Name, func(t *testing.T) {
			c, err := Build(s)
			if err != nil {
				t.Fatal(err)
			}
			b := &builder{s: &s, r: rng{s: seedOf(s.Name)}}
			if err := b.build(); err != nil {
				t.Fatal(err)
			}
			src := openCapture(t, c)
			if got, want := int(src.LinkType()), s.Link.LinkType(); got != want {
				t.Errorf("link type %d, want %d", got, want)
			}
			n := 0
			for ; ; n++ {
				data, ci, err := src.ReadPacketData()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("record %d: %v", n, err)
				}
				if n >= len(b.frames) {
					continue
				}
				fr := &b.frames[n]
				if ci.Length != fr.origLen || !bytes.Equal(data, fr.data) {
					t.Errorf("record %d: length %d/%d, want %d/%d", n, len(data), ci.Length, len(fr.data), fr.origLen)
				}
				if ci.Timestamp.UnixMicro() != fr.ts.UnixMicro() {
					t.Errorf("record %d: time %v, want %v", n, ci.Timestamp, fr.ts)
				}
				checkDecoded(t, n, s, decode(s.Link, data), &fr.t)
			}
			if n != c.Expected.Packets || n != len(b.frames) {
				t.Errorf("read %d records, scenario built %d, expected file says %d", n, len(b.frames), c.Expected.Packets)
			}
		})
	}
}

// opaqueTunnel reports whether gopacket cannot decode the flow's inner
// packet (TZSP and CAPWAP have no gopacket decoder).
func opaqueTunnel(s Scenario, tr *truth) bool {
	return tr.tunnel == 2 || tr.tunnel == 3
}

func checkDecoded(t *testing.T, n int, s Scenario, p gopacket.Packet, tr *truth) {
	t.Helper()
	if tr.ignored || opaqueTunnel(s, tr) {
		return
	}
	var (
		found  bool
		ipLen  int
		dataOf int
	)
	for _, l := range p.Layers() {
		switch h := l.(type) {
		case *layers.IPv4:
			if h.SrcIP.Equal(tr.srcIP.AsSlice()) && h.DstIP.Equal(tr.dstIP.AsSlice()) {
				found, ipLen = true, int(h.Length)
			}
		case *layers.IPv6:
			if h.SrcIP.Equal(tr.srcIP.AsSlice()) && h.DstIP.Equal(tr.dstIP.AsSlice()) {
				found, ipLen = true, int(h.Length)
			}
		case *layers.TCP:
			if found && uint16(h.SrcPort) == tr.srcPort && uint16(h.DstPort) == tr.dstPort {
				dataOf = int(h.DataOffset) * 4
			}
		}
	}
	if !found {
		t.Errorf("record %d: gopacket finds no IP header %v > %v (layers %v)", n, tr.srcIP, tr.dstIP, p.Layers())
		return
	}
	if ipLen != tr.ip {
		t.Errorf("record %d: gopacket IP length %d, expected ip_size %d", n, ipLen, tr.ip)
	}
	if tr.proto == ProtoTCP && tr.note == "" {
		if dataOf == 0 {
			t.Errorf("record %d: gopacket finds no TCP header %d > %d", n, tr.srcPort, tr.dstPort)
		} else if tr.transport-tr.payload != dataOf {
			t.Errorf("record %d: TCP header %d bytes, expectation says %d", n, dataOf, tr.transport-tr.payload)
		}
	}
}

// TestExpectedConsistent checks the expected flows against themselves:
// counters add up, ids run from 0, packets are in the flow's time range.
func TestExpectedConsistent(t *testing.T) {
	cs, err := BuildAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		e := c.Expected
		counted := 0
		for i, f := range e.Flows {
			if f.ID != i {
				t.Errorf("%s: flow %d has id %d", c.FileName(), i, f.ID)
			}
			if int(f.BidirectionalPackets) != len(f.Packets) || f.Src2DstPackets+f.Dst2SrcPackets != f.BidirectionalPackets {
				t.Errorf("%s flow %d: packet counts do not add up", c.FileName(), i)
			}
			m := f.Bytes
			for _, d := range []DirBytes{m.Raw, m.IP, m.IPv6WithHeader, m.Transport, m.Payload} {
				if d.Src2Dst+d.Dst2Src != d.Bidirectional {
					t.Errorf("%s flow %d: byte counts do not add up", c.FileName(), i)
				}
			}
			if m.Raw.Bidirectional < m.IP.Bidirectional || m.IP.Bidirectional < m.Transport.Bidirectional || m.Transport.Bidirectional < m.Payload.Bidirectional {
				t.Errorf("%s flow %d: sizes not decreasing from mode 0 to 3", c.FileName(), i)
			}
			for _, p := range f.Packets {
				if p.TimeMs < f.BidirectionalFirstSeenMs || p.TimeMs > f.BidirectionalLastSeenMs {
					t.Errorf("%s flow %d: packet %d outside the flow's time range", c.FileName(), i, p.Index)
				}
			}
			if f.Packets[0].Direction != 0 {
				t.Errorf("%s flow %d: first packet is not src2dst", c.FileName(), i)
			}
			counted += len(f.Packets)
		}
		if counted+e.IgnoredPackets != e.Packets {
			t.Errorf("%s: %d counted + %d ignored != %d packets", c.FileName(), counted, e.IgnoredPackets, e.Packets)
		}
		if len(c.File) > 64<<10 {
			t.Errorf("%s: %d bytes, keep test captures small", c.FileName(), len(c.File))
		}
	}
}

// TestMeterTimeouts checks the model meter on hand-made packet times.
func TestMeterTimeouts(t *testing.T) {
	cs, err := BuildAll()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Expected{}
	for _, c := range cs {
		byName[c.Scenario.Name] = c.Expected
	}
	type row struct {
		exp      int
		src      string
		packets  int64
		duration int64
	}
	check := func(name string, want []row) {
		t.Helper()
		fs := byName[name].Flows
		if len(fs) != len(want) {
			t.Fatalf("%s: %d flows, want %d", name, len(fs), len(want))
		}
		for i, w := range want {
			f := fs[i]
			got := row{f.ExpirationID, f.SrcIP, f.BidirectionalPackets, f.BidirectionalDurationMs}
			if got != w {
				t.Errorf("%s flow %d: %+v, want %+v", name, i, got, w)
			}
		}
	}
	check("timeouts_idle", []row{
		{0, "192.0.2.10", 2, 100},    // W, scanned out at 120.5 s
		{0, "192.0.2.10", 2, 999},    // X before its 120000 ms gap
		{0, "192.0.2.10", 4, 120022}, // Y, 119999 ms gap kept
		{0, "192.0.2.10", 4, 1009},   // Z, flushed at the end
		{0, "203.0.113.7", 2, 1000},  // X after the gap: src is B
		{0, "192.0.2.10", 2, 3},      // last
	})
	check("timeouts_active", []row{
		{1, "192.0.2.10", 32, 1740000},  // busy TCP until its 1800 s packet
		{0, "192.0.2.10", 2, 5000},      // idle UDP reached once the busy flow left
		{1, "192.0.2.10", 19, 1799999},  // split at +1800000, not +1799999
		{0, "198.51.100.20", 4, 180000}, // busy TCP after the split: src flipped
		{0, "192.0.2.10", 2, 60000},
	})
}
