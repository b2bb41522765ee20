package meter

import (
	"encoding/binary"
	"errors"
	"runtime"
	"slices"
	"testing"
	"unsafe"

	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
)

// synthetic returns n packets of n/2 TCP flows, both directions.
func synthetic(n int) []decode.Packet {
	pkts := make([]decode.Packet, n)
	for i := range pkts {
		p := &pkts[i]
		flow := uint32(i / 2)
		a, b := [16]byte{10, 0}, [16]byte{10, 1}
		binary.BigEndian.PutUint32(a[:4], 0x0a000000|flow)
		binary.BigEndian.PutUint32(b[:4], 0x0b000000|flow)
		p.IPVersion, p.Protocol = 4, 6
		p.SrcIP, p.DstIP, p.SrcPort, p.DstPort = a, b, 40000, 443
		if i%2 == 1 {
			p.SrcIP, p.DstIP, p.SrcPort, p.DstPort = b, a, 443, 40000
		}
		p.RawSize, p.IPSize, p.TransportSize, p.PayloadSize = 100, 86, 66, 46
		p.Flags = decode.FlagACK
	}
	return pkts
}

func mustNew(cfg Config, export ExportFunc) *Meter {
	m, err := New(cfg, export)
	if err != nil {
		panic(err)
	}
	return m
}

func config() Config {
	return Config{
		Features:      features.Config{Stats: true, SPLT: 10},
		IdleTimeout:   120_000,
		ActiveTimeout: 1_800_000,
	}
}

// TestNoAllocationsPerPacket checks the steady state of the hot path:
// updating existing flows, creating flows in freed slots and expiring them
// allocate nothing.
func TestNoAllocationsPerPacket(t *testing.T) {
	pkts := synthetic(2000)
	m := mustNew(config(), func(*features.Record) error { return nil })
	now := uint64(1_000_000)
	for i := range pkts {
		m.Process(&pkts[i], now)
	}
	i := 0
	allocs := testing.AllocsPerRun(10000, func() {
		now++
		m.Process(&pkts[i%len(pkts)], now)
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per packet updating flows, want 0", allocs)
	}
	// Every packet past the idle timeout: each expires its flow and starts
	// a new one in the freed slot.
	cfg := config()
	cfg.IdleTimeout = 0
	m = mustNew(cfg, func(*features.Record) error { return nil })
	for i := range pkts {
		m.Process(&pkts[i], now)
	}
	allocs = testing.AllocsPerRun(10000, func() {
		now++
		m.Process(&pkts[i%len(pkts)], now)
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per packet expiring and creating flows, want 0", allocs)
	}
}

// TestCreationOrderScan checks NFStream's idle scan: it walks flows in
// creation order and stops at the first that is not idle, so a busy old
// flow delays the export of younger idle ones (NFStream issue #120).
func TestCreationOrderScan(t *testing.T) {
	pkts := synthetic(6) // flows A (0,1), B (2,3), C (4,5)
	var out []uint16
	var order []uint32
	cfg := config()
	cfg.IdleTimeout = 1000
	m := mustNew(cfg, func(r *features.Record) error {
		out = append(out, r.SrcPort)
		order = append(order, binary.BigEndian.Uint32(r.SrcIP[:4])&0xffff)
		return nil
	})
	m.Process(&pkts[0], 0)  // A
	m.Process(&pkts[2], 10) // B
	m.Process(&pkts[4], 20) // C
	// A stays busy; B and C go idle.
	for t0 := uint64(100); t0 <= 3000; t0 += 100 {
		m.Process(&pkts[1], t0)
	}
	if len(order) != 0 {
		t.Fatalf("flows %v exported while the oldest flow is busy; NFStream's scan stops at it", order)
	}
	m.Flush()
	if want := []uint32{0, 1, 2}; len(order) != 3 || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
		t.Errorf("flush order %v, want creation order %v", order, want)
	}
}

// BenchmarkProcess measures the meter alone on 100,000 concurrent flows
// with statistics and SPLT on.
func BenchmarkProcess(b *testing.B) {
	pkts := synthetic(200_000)
	m := mustNew(config(), func(*features.Record) error { return nil })
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Process(&pkts[i%len(pkts)], uint64(i/1000))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkMemoryPerFlow reports the heap bytes each active flow costs
// (--stats --splt 10), table included.
func BenchmarkMemoryPerFlow(b *testing.B) {
	const flows = 200_000
	pkts := synthetic(2 * flows)
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := mustNew(config(), func(*features.Record) error { return nil })
		for j := 0; j < len(pkts); j += 2 {
			m.Process(&pkts[j], 0)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if m.ActiveFlows() != flows {
			b.Fatalf("%d active flows, want %d", m.ActiveFlows(), flows)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/flows, "bytes/flow")
		runtime.KeepAlive(m)
	}
}

// TestLRUScan checks the live rule: with LRU on, a busy old flow no longer
// holds back the export of younger idle flows, and a quiet link still
// exports when the clock advances without packets.
func TestLRUScan(t *testing.T) {
	pkts := synthetic(6) // flows A (0,1), B (2,3), C (4,5)
	var order []uint32
	cfg := config()
	cfg.IdleTimeout, cfg.LRU = 1000, true
	m := mustNew(cfg, func(r *features.Record) error {
		order = append(order, binary.BigEndian.Uint32(r.SrcIP[:4])&0xffff)
		return nil
	})
	m.Process(&pkts[0], 0)  // A
	m.Process(&pkts[2], 10) // B
	m.Process(&pkts[4], 20) // C
	for t0 := uint64(100); t0 <= 1500; t0 += 100 {
		m.Process(&pkts[1], t0) // A stays busy
	}
	if len(order) != 2 || order[0] != 1 || order[1] != 2 {
		t.Fatalf("exported %v by t=1500, want B then C (idle since 10 and 20 ms)", order)
	}
	// No more packets: the wall clock alone expires A.
	if err := m.Advance(2600); err != nil {
		t.Fatal(err)
	}
	if len(order) != 3 || order[2] != 0 || m.ActiveFlows() != 0 {
		t.Errorf("after Advance: exported %v, %d active; want A exported too", order, m.ActiveFlows())
	}
}

// TestSlotsOnCacheLines checks the layout features.Flow is designed for:
// every flow starts on a 64-byte boundary, with its SPLT entries after its
// slot and before the next slot, whatever the SPLT length.
func TestSlotsOnCacheLines(t *testing.T) {
	for _, n := range []int{0, 1, 10, 33} {
		cfg := config()
		cfg.Features.SPLT = n
		m := mustNew(cfg, func(*features.Record) error { return nil })
		pkts := synthetic(2 * (pageSize + 10))
		for i := 0; i < len(pkts); i += 2 {
			m.Process(&pkts[i], 0)
		}
		for i := int32(0); i < m.nslot; i++ {
			s := uintptr(unsafe.Pointer(m.slot(i)))
			if s%64 != 0 {
				t.Fatalf("splt %d: slot %d at %#x, not on a cache line", n, i, s)
			}
			if sp := m.splt(i); n > 0 {
				lo, hi := uintptr(unsafe.Pointer(&sp[0])), uintptr(unsafe.Pointer(&sp[n-1]))+unsafe.Sizeof(sp[0])
				if lo < s+unsafe.Sizeof(slot{}) || hi > s+m.stride {
					t.Fatalf("splt %d: slot %d's entries at [%#x, %#x) overlap its slot [%#x, %#x) or the next", n, i, lo, hi, s, s+unsafe.Sizeof(slot{}))
				}
			}
		}
	}
}

// TestFlushAfterExportError checks the end-of-capture flush, which empties
// the table at once: when an export fails part way, the flows exported so
// far and the failing one are gone, and the rest are still there, each
// found by its packets and flushed once later.
func TestFlushAfterExportError(t *testing.T) {
	pkts := synthetic(20) // 10 flows
	var got []uint32
	fail := 3
	m := mustNew(config(), func(r *features.Record) error {
		got = append(got, binary.BigEndian.Uint32(r.SrcIP[:4])&0xffff)
		if len(got) == fail {
			return errors.New("disk full")
		}
		return nil
	})
	for i := 0; i < len(pkts); i += 2 {
		m.Process(&pkts[i], 0)
	}
	if err := m.Flush(); err == nil || len(got) != 3 {
		t.Fatalf("flush: %v after %d flows, want the export error after 3", err, len(got))
	}
	if m.ActiveFlows() != 7 {
		t.Fatalf("%d flows left after the failed flush, want 7", m.ActiveFlows())
	}
	fail = 0
	m.Process(&pkts[7], 1) // flow 3's reply: updates the flow still in the table
	m.Process(&pkts[0], 1) // flow 0 was exported: a new flow
	if m.ActiveFlows() != 8 {
		t.Fatalf("%d flows after two more packets, want 8", m.ActiveFlows())
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	want := []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0}
	if !slices.Equal(got, want) {
		t.Errorf("exported flows %v, want %v", got, want)
	}
	if m.ActiveFlows() != 0 {
		t.Errorf("%d flows left after flush", m.ActiveFlows())
	}
	// The emptied meter takes new flows.
	m.Process(&pkts[4], 2)
	m.Process(&pkts[5], 2)
	if m.ActiveFlows() != 1 {
		t.Errorf("%d flows after one flow's two packets, want 1", m.ActiveFlows())
	}
}

// TestIdleReportChunks checks ProcessShardBatch's report of many flows
// turning idle at one scan point: every flow, oldest first, in calls of
// at most idleChunk, done (with the bound) only on the last.
func TestIdleReportChunks(t *testing.T) {
	const flows = 2*idleChunk + 100
	pkts := synthetic(2 * flows)
	one := make([]decode.Packet, flows) // one packet of each flow
	for i := range one {
		one[i] = pkts[2*i]
	}
	times := make([]uint64, flows)
	seqs := make([]uint64, flows)
	for i := range seqs {
		times[i], seqs[i] = 1_000, uint64(i)
	}
	m := mustNew(config(), func(*features.Record) error { return nil })
	var got []uint64
	calls, dones := 0, 0
	onIdle := func(p int, idle []uint64, done bool, bound uint64) {
		calls++
		if len(idle) > idleChunk {
			t.Fatalf("%d flows in one call, at most %d", len(idle), idleChunk)
		}
		if dones > 0 {
			t.Fatalf("a call after the one marked done at point %d", p)
		}
		got = append(got, idle...)
		if done {
			dones++
			if bound != 1<<64-1 {
				t.Errorf("bound %d with every flow idle", bound)
			}
		}
	}
	if err := m.ProcessShardBatch(one, times, seqs, nil, onIdle); err != nil {
		t.Fatal(err)
	}
	got, calls = nil, 0
	// An empty batch whose one scan point comes after the idle timeout.
	points := []ScanPoint{{Pos: 0, Event: flows, Tick: 1_000 + config().IdleTimeout}}
	if err := m.ProcessShardBatch(nil, nil, nil, points, onIdle); err != nil {
		t.Fatal(err)
	}
	if dones != 1 || calls != 3 {
		t.Fatalf("%d calls, %d marked done; want 3 and 1", calls, dones)
	}
	if !slices.Equal(got, seqs) {
		t.Fatalf("reported %d flows, not the %d in creation order", len(got), flows)
	}
}
