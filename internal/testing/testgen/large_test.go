package testgen

import (
	"bytes"
	"io"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestWriteLargeValid reads a small large-capture back with pcapgo and
// decodes every frame with gopacket: checksums verify, frames are 60 to 200
// bytes, and the packet and flow counts are the configured ones.
func TestWriteLargeValid(t *testing.T) {
	cfg := LargeConfig{Packets: 30_000, Flows: 3_000, Concurrent: 700, Seed: 7}
	var buf bytes.Buffer
	st, err := WriteLarge(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets != 30_000 || st.Flows != 3_000 || st.TCPFlows+st.UDPFlows != st.Flows {
		t.Fatalf("stats %+v", st)
	}
	if st.FileBytes != int64(buf.Len()) {
		t.Errorf("FileBytes %d, file has %d", st.FileBytes, buf.Len())
	}
	if st.IPv6Flows < 150 || st.IPv6Flows > 450 || st.UDPFlows < 600 || st.UDPFlows > 1200 {
		t.Errorf("unexpected mixture %+v", st)
	}
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	type end struct {
		ip   netip.Addr
		port uint16
	}
	type key struct {
		a, b  end
		proto layers.IPProtocol
	}
	flows := map[key]int{}
	var frameBytes int64
	n := 0
	for ; ; n++ {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(data) < 60 || len(data) > 200 || ci.Length != len(data) {
			t.Fatalf("packet %d: %d bytes (len %d)", n, len(data), ci.Length)
		}
		frameBytes += int64(len(data))
		// Payloads are random bytes: gopacket may fail to decode them as
		// DNS or other applications, which does not matter here.
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		var nl gopacket.NetworkLayer
		var k key
		switch h := p.NetworkLayer().(type) {
		case *layers.IPv4:
			if err, res := h.VerifyChecksum(); err != nil || !res.Valid {
				t.Fatalf("packet %d: bad IPv4 checksum", n)
			}
			nl, k.proto = h, h.Protocol
		case *layers.IPv6:
			nl, k.proto = h, h.NextHeader
		default:
			t.Fatalf("packet %d: no IP layer", n)
		}
		src, _ := netip.AddrFromSlice(nl.NetworkFlow().Src().Raw())
		dst, _ := netip.AddrFromSlice(nl.NetworkFlow().Dst().Raw())
		switch l4 := p.TransportLayer().(type) {
		case *layers.TCP:
			if err := l4.SetNetworkLayerForChecksum(nl); err != nil {
				t.Fatal(err)
			}
			if err, res := l4.VerifyChecksum(); err != nil || !res.Valid {
				t.Fatalf("packet %d: bad TCP checksum", n)
			}
			k.a, k.b = end{src, uint16(l4.SrcPort)}, end{dst, uint16(l4.DstPort)}
		case *layers.UDP:
			if err := l4.SetNetworkLayerForChecksum(nl); err != nil {
				t.Fatal(err)
			}
			if err, res := l4.VerifyChecksum(); err != nil || !res.Valid {
				t.Fatalf("packet %d: bad UDP checksum", n)
			}
			k.a, k.b = end{src, uint16(l4.SrcPort)}, end{dst, uint16(l4.DstPort)}
		default:
			t.Fatalf("packet %d: no TCP or UDP layer", n)
		}
		if c := k.a.ip.Compare(k.b.ip); c > 0 || (c == 0 && k.a.port > k.b.port) {
			k.a, k.b = k.b, k.a
		}
		flows[k]++
	}
	if n != 30_000 || len(flows) != 3_000 || frameBytes != st.FrameBytes {
		t.Errorf("read %d packets of %d flows, %d frame bytes; stats %+v", n, len(flows), frameBytes, st)
	}
}

// TestWriteLargeDeterministic: the same config gives the same bytes, a
// different seed different ones.
func TestWriteLargeDeterministic(t *testing.T) {
	gen := func(seed uint64) []byte {
		var b bytes.Buffer
		if _, err := WriteLarge(&b, LargeConfig{Packets: 5000, Flows: 400, Seed: seed}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if !bytes.Equal(gen(3), gen(3)) {
		t.Error("same seed, different files")
	}
	if bytes.Equal(gen(3), gen(4)) {
		t.Error("different seeds, same file")
	}
}

func TestLargeConfigValidate(t *testing.T) {
	for _, c := range []LargeConfig{
		{Packets: -1},
		{Packets: 10, Flows: 11},
		{Flows: maxLargeFlows + 1, Packets: maxLargeFlows + 1},
		{Concurrent: -1},
		{PacketsPerSecond: -5},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
		if _, err := WriteLarge(io.Discard, c); err == nil {
			t.Errorf("%+v: WriteLarge accepted it", c)
		}
	}
	if err := (&LargeConfig{}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// BenchmarkWriteLarge reports the generator's speed in packets per second.
func BenchmarkWriteLarge(b *testing.B) {
	cfg := LargeConfig{Packets: 1_000_000, Flows: 100_000}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := WriteLarge(io.Discard, cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cfg.Packets)*float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}
