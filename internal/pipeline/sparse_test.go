package pipeline

import (
	"bytes"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
	"github.com/nfstream-go/nfstream/internal/testing/testgen"
)

// sparseScenario is a capture sparse in time, as real links are and the
// benchmarks' generated capture is not: three hours of capture time, well
// under one packet per second on average, most flows expiring idle. Two
// long flows, each talking every 50 to 110 s for half an hour, hold the
// creation-order idle scan back (they are never idle) until the active
// timeout splits them, so idle flows pile up behind them. Other flows
// pause for minutes: a scan takes them, or their own packet splits them
// where the scan cannot reach them. At the end, 1200 one-packet flows at
// one instant make a scan reach its budget of 1000, and a flow split by
// its own packet between that scan and the next shows where the budget
// stopped it.
func sparseScenario() testgen.Scenario {
	r := rand.New(rand.NewPCG(14, 2026))
	host, server, udp := sparseHost, sparseServer, sparseUDP
	var flows []testgen.Flow
	for b, from := range []time.Duration{20 * time.Minute, 90 * time.Minute} {
		var at []time.Duration
		for t := from; t < from+32*time.Minute; t += time.Duration(50+r.IntN(61)) * time.Second {
			at = append(at, t)
		}
		flows = append(flows, udp(b+1, 7000, 7000, at...))
	}
	for i := range 1500 {
		f := testgen.Flow{A: host(100 + i), B: server, APort: uint16(20000 + i), BPort: 53, Proto: testgen.ProtoUDP}
		if i%3 == 0 {
			f.Proto = testgen.ProtoTCP
			f.BPort = 443
		}
		at := time.Duration(r.Int64N(int64(2 * time.Hour)))
		for n := 1 + r.IntN(8); n > 0; n-- {
			f.Packets = append(f.Packets, testgen.Packet{Dir: testgen.Dir(len(f.Packets) % 2), At: at, Payload: 20 + r.IntN(1200)})
			switch x := r.IntN(10); {
			case x < 7:
				at += time.Duration(1+r.IntN(500)) * time.Millisecond
			case x < 9:
				at += time.Duration(1+r.IntN(60)) * time.Second
			default:
				at += time.Duration(100+r.IntN(200)) * time.Second
			}
		}
		flows = append(flows, f)
	}
	burst := 170 * time.Minute
	for i := range 1200 {
		flows = append(flows, udp(5000+i, 33000, 123, burst))
	}
	flows = append(flows,
		udp(9000, 34000, 123, burst+time.Second, burst+125*time.Second), // split by its own packet
		udp(9001, 34001, 123, burst+120500*time.Millisecond),            // the scan that takes 1000
		udp(9002, 34002, 123, burst+130*time.Second))                    // the scan that takes the rest
	return testgen.Scenario{Name: "sparse", Link: testgen.LinkEthernet, Flows: flows,
		Start:       time.Unix(1704067200, 0),
		Description: "three hours of sparse traffic: idle expiry behind long flows, splits by idle gaps, a scan at its budget"}
}

// sparseHost is client i of the sparse scenarios, sparseServer their
// server, and sparseUDP a UDP flow from client a, one packet at each of
// at, alternating directions.
func sparseHost(i int) testgen.Host {
	ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	return testgen.Host{IP: ip, MAC: net.HardwareAddr{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}}
}

var sparseServer = testgen.Host{IP: netip.MustParseAddr("192.0.2.53"), MAC: net.HardwareAddr{2, 1, 1, 1, 1, 1}}

func sparseUDP(a int, aport, bport uint16, at ...time.Duration) testgen.Flow {
	f := testgen.Flow{A: sparseHost(a), B: sparseServer, APort: aport, BPort: bport, Proto: testgen.ProtoUDP}
	for i, t := range at {
		f.Packets = append(f.Packets, testgen.Packet{Dir: testgen.Dir(i % 2), At: t, Payload: 48})
	}
	return f
}

// sparseOneMeter writes the scenario's capture, runs one meter over it
// with cfg's defaults (stats on, SPLT splt) and checks its rows against
// the generator's model: ids, addresses, ports, packets, first packet
// times and expiration ids. It returns the config and the CSV.
func sparseOneMeter(t *testing.T, sc testgen.Scenario, schema features.Schema, splt int) (FileConfig, []byte, []testgen.ExpectedFlow) {
	t.Helper()
	c, err := testgen.Build(sc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), c.FileName())
	if err := os.WriteFile(path, c.File, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := nfstreamDefaults([]string{path}, features.AccountLink, true, splt)
	one := csvBytes(t, cfg, 1, schema)
	tab, err := corpus.ParseCSV(string(one))
	if err != nil {
		t.Fatal(err)
	}
	want := c.Expected.Flows
	if len(tab.Rows) != len(want) {
		t.Fatalf("one meter: %d flows, the model %d", len(tab.Rows), len(want))
	}
	for i, w := range want {
		row := tab.Rows[i]
		got := func(col string) string { return row[tab.Col(col)] }
		if got("id") != strconv.Itoa(w.ID) || got("src_ip") != w.SrcIP || got("src_port") != strconv.Itoa(int(w.SrcPort)) ||
			got("bidirectional_packets") != strconv.FormatInt(w.BidirectionalPackets, 10) ||
			got("bidirectional_first_seen_ms") != strconv.FormatInt(w.BidirectionalFirstSeenMs, 10) ||
			got("expiration_id") != strconv.Itoa(w.ExpirationID) {
			t.Fatalf("one meter, row %d: id %s %s:%s, %s packets from %s, expiration %s; the model: id %d %s:%d, %d packets from %d, expiration %d",
				i, got("id"), got("src_ip"), got("src_port"), got("bidirectional_packets"), got("bidirectional_first_seen_ms"), got("expiration_id"),
				w.ID, w.SrcIP, w.SrcPort, w.BidirectionalPackets, w.BidirectionalFirstSeenMs, w.ExpirationID)
		}
	}
	t.Logf("%d packets, %d flows", c.Expected.Packets, len(want))
	return cfg, one, want
}

// TestMetersSparseCapture checks docs/compatibility.md items 2 and 5 on a
// capture sparse in time, where nearly every packet is followed by an idle
// scan: one meter gives the flows, order and ids of the generator's model
// of NFStream's meter, and 2, 3 and 4 meters write the same bytes as one.
func TestMetersSparseCapture(t *testing.T) {
	schema := features.Schema{Stats: true, SPLT: true}
	cfg, one, want := sparseOneMeter(t, sparseScenario(), schema, 10)
	idle, scanned := 0, 0
	for i, w := range want {
		if w.ExpirationID == int(features.ExpiredIdle) {
			idle++
		}
		if i > 0 && w.BidirectionalFirstSeenMs < want[i-1].BidirectionalFirstSeenMs {
			scanned++ // out of creation order: a scan or a packet expired it first
		}
	}
	if idle < len(want)/2 || scanned == 0 {
		t.Fatalf("the capture does not exercise the scan: %d of %d flows expire idle, %d out of creation order", idle, len(want), scanned)
	}
	// With rounds of the usual length (one round here), and with short
	// rounds, so that flows wait idle across rounds.
	for _, every := range []int{roundEvery, 97} {
		defer func(prev int) { roundEvery = prev }(roundEvery)
		roundEvery = every
		for _, n := range []int{2, 3, 4} {
			if got := csvBytes(t, cfg, n, schema); !bytes.Equal(got, one) {
				t.Errorf("%d meters, rounds of %d packets, differ from one:\n%s", n, every, firstDiff(one, got))
			}
		}
	}
	t.Logf("%d expire idle, %d out of creation order", idle, scanned)
}

// burstScenario: a flow that talks every minute for ten minutes holds the
// creation-order scan back while 10,000 one-packet flows start behind
// it. When it falls silent, all of them are idle at the same scan point,
// more than a meter reports in one call (meter's idleChunk); the trailing
// packets of one last flow then give the scans that take them, 1000 at a
// time, and the end of the capture flushes the rest.
func burstScenario() testgen.Scenario {
	udp := func(a int, port uint16, at ...time.Duration) testgen.Flow { return sparseUDP(a, port, 53, at...) }
	var blocker []time.Duration
	for t := time.Duration(0); t <= 10*time.Minute; t += time.Minute {
		blocker = append(blocker, t)
	}
	flows := []testgen.Flow{udp(1, 7000, blocker...)}
	for i := range 10_000 {
		flows = append(flows, udp(100+i, uint16(10000+i%50000), 30*time.Second+time.Duration(i)*5*time.Millisecond))
	}
	var last []time.Duration
	for k := range 6 {
		last = append(last, 13*time.Minute+time.Duration(k)*time.Second)
	}
	flows = append(flows, udp(50_000, 9000, last...))
	return testgen.Scenario{Name: "burst", Link: testgen.LinkEthernet, Flows: flows,
		Start:       time.Unix(1704067200, 0),
		Description: "10,000 flows idle behind one long flow, released at one scan point"}
}

// TestMetersIdleBurst checks docs/compatibility.md items 2 and 5 where a
// meter finds more flows idle at one scan point than it reports at once:
// one meter gives the model's flows and ids, 2 and 3 meters its bytes.
func TestMetersIdleBurst(t *testing.T) {
	schema := features.Schema{Stats: true}
	cfg, one, _ := sparseOneMeter(t, burstScenario(), schema, 0)
	for _, n := range []int{2, 3} {
		if got := csvBytes(t, cfg, n, schema); !bytes.Equal(got, one) {
			t.Errorf("%d meters differ from one:\n%s", n, firstDiff(one, got))
		}
	}
}
