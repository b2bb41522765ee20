package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// TestTelemetryEvicted checks that flows evicted by the active-flow bound
// are counted under their own reason.
func TestTelemetryEvicted(t *testing.T) {
	tel := new(Telemetry)
	tel.start(1, false, nil)
	sink := tel.Sink(&countSink{})
	for _, id := range []int8{features.ExpiredIdle, features.ExpiredEvicted, features.ExpiredEvicted, features.ExpiredActive} {
		sink.Write(&features.Record{ExpirationID: id})
	}
	s := tel.Snapshot()
	if s.FlowsByReason["evicted"] != 2 || s.FlowsByReason["idle"] != 1 || s.FlowsByReason["active"] != 1 || s.FlowsExpired != 4 {
		t.Errorf("by reason %v, %d in all; want 2 evicted, 1 idle, 1 active, 4", s.FlowsByReason, s.FlowsExpired)
	}
}

// TestPerMeterShare checks each meter's share of the bound: ceil(N/meters).
func TestPerMeterShare(t *testing.T) {
	for _, c := range []struct {
		n      uint64
		meters int
		want   int
	}{{0, 4, 0}, {1000, 1, 1000}, {1000, 3, 334}, {1, 2, 1}, {10, 0, 10}} {
		if got := perMeter(c.n, c.meters); got != c.want {
			t.Errorf("perMeter(%d, %d) = %d, want %d", c.n, c.meters, got, c.want)
		}
	}
}

// TestLimitNotes checks what the summary says about the limits.
func TestLimitNotes(t *testing.T) {
	st := Stats{MaxFlows: 10, MaxActiveFlows: 1000}
	if got := st.LimitNotes(); got != "" {
		t.Errorf("no limit reached: %q", got)
	}
	st.Evicted, st.LimitReached = 5, true
	if got, want := st.LimitNotes(), " (5 flows evicted early: active-flow limit 1000); stopped at --max-flows 10"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// orderSink checks the run's records: ids from 0, features.Order strictly
// increasing (the merge of several meters kept single-meter order), and
// it sums the packets and counts the evicted flows.
type orderSink struct {
	t       *testing.T
	name    string
	n       uint64
	last    features.Order
	packets uint64
	evicted uint64
}

func (s *orderSink) Begin([]features.Column) error { return nil }
func (s *orderSink) Close() error                  { return nil }
func (s *orderSink) Write(r *features.Record) error {
	if r.ID != s.n || (s.n > 0 && !s.last.Less(r.Order)) {
		s.t.Errorf("%s: record %d (id %d) at %+v after %+v", s.name, s.n, r.ID, r.Order, s.last)
	}
	s.n++
	s.last = r.Order
	s.packets += r.Bidirectional.Packets
	if r.ExpirationID == features.ExpiredEvicted {
		s.evicted++
	}
	return nil
}

// TestMetersEviction runs the generated captures with a bound of 4 active
// flows on 1, 2 and 3 meters: the records stay in order, every metered
// packet is in exactly one record, and the evictions are counted.
func TestMetersEviction(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus.RepoRoot(t), "testdata", "*.pcap*"))
	if len(files) == 0 {
		t.Skip("no generated captures")
	}
	evicted := uint64(0)
	for _, p := range files {
		for _, n := range []int{1, 2, 3} {
			cfg := nfstreamDefaults([]string{p}, features.AccountLink, true, 5)
			cfg.Meters, cfg.MaxActiveFlows = n, 4
			s := &orderSink{t: t, name: fmt.Sprintf("%s, %d meters", filepath.Base(p), n)}
			st, err := Run(context.Background(), cfg, s, features.Schema{Stats: true, SPLT: true}.Columns())
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if s.packets != st.Processed || st.Flows != s.n || st.Evicted != s.evicted {
				t.Errorf("%s: %d packets in records, %d metered; stats %+v, sink saw %d flows, %d evicted",
					s.name, s.packets, st.Processed, st, s.n, s.evicted)
			}
			evicted += st.Evicted
		}
	}
	if evicted == 0 {
		t.Error("no capture has more than 4 concurrent flows: the bound was never reached")
	}
}

// sameInstantFlood writes a pcap of n one-packet UDP flows all captured at
// the same instant, so no idle scan comes after the first packet.
func sameInstantFlood(t *testing.T, n int) string {
	t.Helper()
	var b bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 101) // raw IP
	b.Write(hdr)
	for i := 0; i < n; i++ {
		var rec [16 + 28]byte
		binary.LittleEndian.PutUint32(rec[0:], 1700000000)
		binary.LittleEndian.PutUint32(rec[8:], 28)
		binary.LittleEndian.PutUint32(rec[12:], 28)
		ip := rec[16:]
		ip[0], ip[8], ip[9] = 0x45, 64, 17
		binary.BigEndian.PutUint16(ip[2:], 28)
		binary.BigEndian.PutUint32(ip[12:], 0x0a000000|uint32(i))
		binary.BigEndian.PutUint32(ip[16:], 0xc0a80001)
		binary.BigEndian.PutUint16(ip[20:], 40000)
		binary.BigEndian.PutUint16(ip[22:], 53)
		binary.BigEndian.PutUint16(ip[24:], 8)
		b.Write(rec[:])
	}
	p := filepath.Join(t.TempDir(), "instant.pcap")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestShardedEvictionRounds floods two meters at one instant past the
// bound: with no scan points, the rounds (every roundEvery packets) hand
// the evicted flows over as they go; the output is still in order and
// complete.
func TestShardedEvictionRounds(t *testing.T) {
	n := uint64(3*roundEvery + 100)
	cfg := nfstreamDefaults([]string{sameInstantFlood(t, int(n))}, features.AccountLink, false, 0)
	cfg.Meters, cfg.MaxActiveFlows = 2, 100
	s := &orderSink{t: t, name: "instant flood"}
	st, err := Run(context.Background(), cfg, s, features.Schema{}.Columns())
	if err != nil {
		t.Fatal(err)
	}
	if st.Flows != n || st.Evicted != n-100 || s.packets != n {
		t.Errorf("stats %+v, %d packets in records; want %d flows, %d evicted", st, s.packets, n, n-100)
	}
}
