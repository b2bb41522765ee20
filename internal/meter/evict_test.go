package meter

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/dpi"
	"github.com/nfstream-go/nfstream/internal/features"
)

type exported struct {
	flow   uint32 // index of the flow in synthetic
	reason int8
	order  features.Order
}

func recorder(out *[]exported) ExportFunc {
	return func(r *features.Record) error {
		*out = append(*out, exported{binary.BigEndian.Uint32(r.SrcIP[:4]) & 0xffffff, r.ExpirationID, r.Order})
		return nil
	}
}

// TestEvictOldest meters K+M distinct flows with a bound of K: the M oldest
// leave early, oldest first, with expiration id 2 at the packet that needed
// room, the table never holds more than K, and the K others leave at the
// flush as usual.
func TestEvictOldest(t *testing.T) {
	const k, extra = 5, 3
	pkts := synthetic(2 * (k + extra))
	var out []exported
	cfg := config()
	cfg.MaxActive = k
	m := mustNew(cfg, recorder(&out))
	for i := 0; i < len(pkts); i += 2 {
		if err := m.Process(&pkts[i], uint64(i)); err != nil {
			t.Fatal(err)
		}
		if m.ActiveFlows() > k {
			t.Fatalf("%d active flows, bound %d", m.ActiveFlows(), k)
		}
	}
	if n := evictedIn(out); n != extra || len(out) != extra {
		t.Fatalf("evicted %d, exported %d before the flush; want %d", n, len(out), extra)
	}
	for j, e := range out {
		// Flow j leaves when flow k+j arrives (packet event k+j).
		want := features.Order{Event: uint64(k + j), Created: uint64(j), Phase: features.PhasePacket}
		if e.flow != uint32(j) || e.reason != features.ExpiredEvicted || e.order != want {
			t.Errorf("early export %d: flow %d reason %d order %+v; want flow %d reason %d order %+v",
				j, e.flow, e.reason, e.order, j, features.ExpiredEvicted, want)
		}
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(out) != k+extra {
		t.Fatalf("%d flows exported in all, want %d", len(out), k+extra)
	}
	for j, e := range out[extra:] {
		if e.flow != uint32(extra+j) || e.reason != features.ExpiredIdle {
			t.Errorf("flush %d: flow %d reason %d, want flow %d reason 0", j, e.flow, e.reason, extra+j)
		}
	}
	for j := 1; j < len(out); j++ {
		if !out[j-1].order.Less(out[j].order) {
			t.Errorf("exports %d and %d out of order: %+v, %+v", j-1, j, out[j-1].order, out[j].order)
		}
	}
}

// TestEvictUpdatesAndTimeouts checks that packets of existing flows never
// evict, and that a packet whose own flow timed out re-creates it in the
// room that flow left, evicting nothing.
func TestEvictUpdatesAndTimeouts(t *testing.T) {
	pkts := synthetic(6) // flows 0, 1, 2
	var out []exported
	cfg := config()
	cfg.MaxActive, cfg.IdleTimeout = 2, 1000
	m := mustNew(cfg, recorder(&out))
	m.Process(&pkts[0], 0)
	m.Process(&pkts[2], 0)
	for t0 := uint64(1); t0 < 1450; t0 += 7 {
		m.Process(&pkts[1], t0) // replies of flow 0, which stays busy
		if t0 < 400 {
			m.Process(&pkts[3], t0) // replies of flow 1
		}
	}
	if len(out) != 0 {
		t.Fatalf("packets of existing flows exported %v", out)
	}
	// Flow 1's next packet is 1 s after its last: it idles out at its own
	// packet and starts again; nothing is evicted.
	m.Process(&pkts[2], 1500)
	if len(out) != 1 || out[0].flow != 1 || out[0].reason != features.ExpiredIdle {
		t.Fatalf("got %v, want flow 1 idle and no eviction", out)
	}
	m.Process(&pkts[4], 1500) // flow 2 needs room: flow 0 is the oldest
	if len(out) != 2 || out[1].flow != 0 || out[1].reason != features.ExpiredEvicted {
		t.Fatalf("got %v, want flow 0 evicted", out)
	}
}

// TestEvictLRU checks the live rule: with LRU the flow evicted is the
// least recently seen, not the first created.
func TestEvictLRU(t *testing.T) {
	pkts := synthetic(10) // flows 0..4
	var out []exported
	cfg := config()
	cfg.MaxActive, cfg.LRU = 3, true
	m := mustNew(cfg, recorder(&out))
	m.Process(&pkts[0], 0) // 0
	m.Process(&pkts[2], 1) // 1
	m.Process(&pkts[4], 2) // 2
	m.Process(&pkts[1], 3) // 0 seen again: 1 is now the least recent
	m.Process(&pkts[6], 4) // 3 evicts 1
	m.Process(&pkts[8], 5) // 4 evicts 2
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	var flows []uint32
	var reasons []int8
	for _, e := range out {
		flows, reasons = append(flows, e.flow), append(reasons, e.reason)
	}
	if want := []uint32{1, 2, 0, 3, 4}; !slices.Equal(flows, want) {
		t.Errorf("export order %v, want %v", flows, want)
	}
	if want := []int8{2, 2, 0, 0, 0}; !slices.Equal(reasons, want) {
		t.Errorf("reasons %v, want %v", reasons, want)
	}
}

// TestEvictNoAllocations checks that a full table costs no allocation per
// packet: every new flow evicts one into the freed slot.
func TestEvictNoAllocations(t *testing.T) {
	pkts := synthetic(20_000)
	cfg := config()
	cfg.MaxActive = 1000
	m := mustNew(cfg, func(*features.Record) error { return nil })
	for i := 0; i < len(pkts); i += 2 {
		m.Process(&pkts[i], 0)
	}
	i := 0
	allocs := testing.AllocsPerRun(5000, func() {
		m.Process(&pkts[(2*i)%len(pkts)], 0)
		i++
	})
	if allocs != 0 || m.ActiveFlows() != 1000 {
		t.Errorf("%v allocations per packet, %d active flows; want 0 and 1000", allocs, m.ActiveFlows())
	}
}

// udpPackets returns n one-packet UDP flows with their IP bytes (an
// unknown payload nDPI keeps dissecting).
func udpPackets(n int) []decode.Packet {
	pkts := make([]decode.Packet, n)
	for i := range pkts {
		ip := make([]byte, 20+8+16)
		ip[0], ip[8], ip[9] = 0x45, 64, 17
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
		binary.BigEndian.PutUint32(ip[12:], 0x0a000000|uint32(i))
		copy(ip[16:], []byte{192, 168, 0, 1})
		binary.BigEndian.PutUint16(ip[20:], 40000)
		binary.BigEndian.PutUint16(ip[22:], 7777)
		binary.BigEndian.PutUint16(ip[24:], 24)
		for j := 28; j < len(ip); j++ {
			ip[j] = byte(i*7 + j*13)
		}
		p := &pkts[i]
		p.IPVersion, p.Protocol = 4, 17
		copy(p.SrcIP[:], ip[12:16])
		copy(p.DstIP[:], ip[16:20])
		p.SrcPort, p.DstPort = 40000, 7777
		p.RawSize, p.IPSize, p.TransportSize, p.PayloadSize = 58, 44, 24, 16
		p.IPContent = ip
	}
	return pkts
}

// TestDPIFlowBytes measures the C memory nDPI holds per flow whose
// detection is open, which FlowBytes assumes (dpiFlowBytes), and checks
// that with a bound the nDPI state of evicted flows is freed: C memory
// stays at the bound's worth of flows.
func TestDPIFlowBytes(t *testing.T) {
	if !dpi.Counting {
		t.Skip("counts nDPI's C memory: build with -tags ndpi_count (make test does)")
	}
	cfg := config()
	cfg.Dissections = 20
	const n = 2000
	m, err := New(cfg, func(*features.Record) error { return nil })
	if err != nil {
		t.Skip("nDPI unavailable:", err)
	}
	defer m.Close()
	pkts := udpPackets(3 * n)
	before := dpi.AllocatedBytes()
	for i := 0; i < n; i++ {
		m.Process(&pkts[i], 0)
	}
	per := float64(dpi.AllocatedBytes()-before) / n
	t.Logf("nDPI holds %.0f bytes per open flow; FlowBytes(dissection on) = %d", per, FlowBytes(cfg))
	if per < 0.8*dpiFlowBytes || per > 1.25*dpiFlowBytes {
		t.Errorf("nDPI holds %.0f bytes per flow, dpiFlowBytes says %d: measure again", per, dpiFlowBytes)
	}
	m.Flush()

	cfg.MaxActive = n / 2
	evicted := 0
	b, err := New(cfg, func(r *features.Record) error {
		if r.ExpirationID == features.ExpiredEvicted {
			evicted++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	before = dpi.AllocatedBytes()
	for i := range pkts {
		b.Process(&pkts[i], 0)
	}
	held := float64(dpi.AllocatedBytes()-before) / float64(cfg.MaxActive)
	if b.ActiveFlows() != cfg.MaxActive || evicted != len(pkts)-cfg.MaxActive || held > 1.25*dpiFlowBytes {
		t.Errorf("bound %d: %d active, %d evicted, %.0f C bytes per active flow", cfg.MaxActive, b.ActiveFlows(), evicted, held)
	}
}

// TestDefaultMaxActive checks the default bound's arithmetic and that this
// machine gives one.
func TestDefaultMaxActive(t *testing.T) {
	cfg := config()
	if got, want := maxActiveFor(1<<30, cfg), uint64(1<<29)/FlowBytes(cfg); got != want {
		t.Errorf("1 GiB: %d flows, want %d", got, want)
	}
	if got := maxActiveFor(1<<20, cfg); got != MinDefaultFlows {
		t.Errorf("1 MiB: %d flows, want the minimum %d", got, MinDefaultFlows)
	}
	if maxActiveFor(0, cfg) != 0 {
		t.Error("no known limit must mean no bound")
	}
	d := cfg
	d.Dissections = 20
	if FlowBytes(d) <= FlowBytes(cfg)+dpiFlowBytes {
		t.Errorf("FlowBytes with dissection %d, without %d: nDPI state not counted", FlowBytes(d), FlowBytes(cfg))
	}
	budget, source := MemoryBudget()
	// The command's defaults: no statistics, no SPLT, 20 dissections.
	plain := Config{Dissections: 20}
	plainNoDPI := Config{}
	for _, c := range []struct {
		name string
		cfg  Config
	}{{"--stats --splt 10", cfg}, {"--stats --splt 10 with nDPI", d}, {"defaults", plain}, {"--n-dissections 0", plainNoDPI}} {
		t.Logf("memory budget %d MiB (%s), %s: %d B per flow, default bound %d flows",
			budget>>20, source, c.name, FlowBytes(c.cfg), DefaultMaxActive(c.cfg))
	}
}

// evictedIn counts the records exported as evictions.
func evictedIn(out []exported) int {
	n := 0
	for _, e := range out {
		if e.reason == features.ExpiredEvicted {
			n++
		}
	}
	return n
}
