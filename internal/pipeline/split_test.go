package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/meter"
	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
	"github.com/nfstream-go/nfstream/internal/testing/testgen"
)

// inlineBytes is csvBytes for one meter with nDPI run by the meter itself,
// as before the dissector had a goroutine of its own.
func inlineBytes(t *testing.T, cfg FileConfig, schema features.Schema) []byte {
	t.Helper()
	splitNDPI = false
	defer func() { splitNDPI = true }()
	return csvBytes(t, cfg, 1, schema)
}

// TestSplitDissectionSameBytes: with nDPI on a goroutine of its own behind
// one meter, the rows are byte for byte those of the meter running nDPI
// itself, on the generated captures and the corpus, and on the burst
// capture, where one idle scan takes 1000 flows inside a batch, so that
// the meter hands a batch's records over in several units.
func TestSplitDissectionSameBytes(t *testing.T) {
	needDPI(t)
	schema := features.Schema{Tunnel: true, L7: true, Stats: true}
	known := 0
	for _, path := range meterCaptures(t) {
		cfg := l7Defaults([]string{path}, 20)
		split, inline := csvBytes(t, cfg, 1, schema), inlineBytes(t, cfg, schema)
		if !bytes.Equal(split, inline) {
			t.Errorf("%s: nDPI behind the meter differs from nDPI in it:\n%s", path, firstDiff(inline, split))
		}
		tab, err := corpus.ParseCSV(string(split))
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range tab.Rows {
			if row[tab.Col("application_name")] != "Unknown" {
				known++
			}
		}
	}
	if known == 0 {
		t.Error("nDPI named no application in any capture: the comparison says nothing of its values")
	}
	cfg, _, _ := sparseOneMeter(t, burstScenario(), schema, 0)
	cfg.Meter.Dissections = 20
	if split, inline := csvBytes(t, cfg, 1, schema), inlineBytes(t, cfg, schema); !bytes.Equal(split, inline) {
		t.Errorf("burst capture: nDPI behind the meter differs from nDPI in it:\n%s", firstDiff(inline, split))
	}
}

// TestSplitDissectionStops: the dissector writes the records, so what
// stops the writing must reach the meter and the reader. A sink that
// fails in the middle ends the run with its error (not as a flow limit
// would, silently) and stops the reading; a flow limit reached while
// reading stops it too; one reached in the flush at the end of the
// capture writes exactly that many flows. Each time the rows are the
// first rows of the whole run.
func TestSplitDissectionStops(t *testing.T) {
	needDPI(t)
	path, err := testgen.LargeFile(t.TempDir(), testgen.LargeConfig{Packets: 60_000, Flows: 6000, Concurrent: 300, PacketsPerSecond: 300})
	if err != nil {
		t.Fatal(err)
	}
	cols := features.Schema{Tunnel: true, L7: true}.Columns()
	cfg := l7Defaults([]string{path}, 20)
	cfg.Meter.IdleTimeout = 1000
	var whole bytes.Buffer
	all, err := Run(context.Background(), cfg, output.NewCSV(&whole, "buffer"), cols)
	if err != nil {
		t.Fatal(err)
	}
	firstRows := func(n int) string {
		return strings.Join(strings.SplitAfterN(whole.String(), "\n", n+2)[:n+1], "")
	}

	errFull := errors.New("write \"flows.csv\": no space left on device")
	const failAt = unitRecords*3 + 10
	var buf bytes.Buffer
	sink := &slowSink{Sink: output.NewCSV(&buf, "buffer"), failAt: failAt, failErr: errFull}
	st, err := Run(context.Background(), cfg, sink, cols)
	if err != errFull {
		t.Fatalf("failing sink: error %v; want %v", err, errFull)
	}
	if sink.late != 0 || st.Flows != failAt-1 || buf.String() != firstRows(failAt-1) {
		t.Errorf("failing sink: %d writes after the failure, %d flows claimed written, rows the first ones: %v", sink.late, st.Flows, buf.String() == firstRows(failAt-1))
	}
	if st.Packets >= all.Packets/2 {
		t.Errorf("failing sink: %d of %d packets read after it failed at flow %d of %d", st.Packets, all.Packets, failAt, all.Flows)
	}

	for _, limit := range []uint64{100, all.Flows - 10} {
		cfg.MaxFlows = limit
		buf.Reset()
		st, err := Run(context.Background(), cfg, output.NewCSV(&buf, "buffer"), cols)
		if err != nil || !st.LimitReached || st.Flows != limit || buf.String() != firstRows(int(limit)) {
			t.Errorf("--max-flows %d: error %v, limit reached %v, %d flows, rows the first ones: %v", limit, err, st.LimitReached, st.Flows, buf.String() == firstRows(int(limit)))
		}
		if limit == 100 && st.Packets >= all.Packets/2 {
			t.Errorf("--max-flows %d: %d of %d packets read", limit, st.Packets, all.Packets)
		}
	}
}

// TestSplitUnitsBounded: the meter hands its records over in units of at
// most unitRecords, even when far more flows leave at once (the burst
// capture's idle scan takes 1000 flows at one packet, the flush at the end
// the rest), so the records between the meter and the dissector stay few.
// Every record still reaches the dissector.
func TestSplitUnitsBounded(t *testing.T) {
	needDPI(t)
	cfg, one, _ := sparseOneMeter(t, burstScenario(), features.Schema{}, 0)
	cfg.Meter.Dissections = 20
	m, err := meter.New(cfg.Meter, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	written := 0
	s := splitDissection(m, func(*features.Record) error { written++; return nil }, func(*batch) {})
	src, err := capture.Open(cfg.Sources[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	b, dec := new(batch), decode.Decoder{Options: cfg.Decode}
	for {
		var pkt capture.Packet
		err := src.Next(&pkt)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !dec.Decode(pkt.LinkType, pkt.Data, pkt.Len, &b.pkts[b.n]) {
			continue
		}
		b.times[b.n] = pkt.TimeMS()
		b.keep(b.n)
		// The scenario's packets are small: a full batch fits its arena.
		if b.n++; b.n == batchSize {
			b.resolve()
			if err := m.ProcessBatch(b.pkts[:b.n], b.times[:b.n]); err != nil {
				t.Fatal(err)
			}
			if err := s.hand(b); err != nil {
				t.Fatal(err)
			}
			b = new(batch)
		}
	}
	b.resolve()
	if err := m.ProcessBatch(b.pkts[:b.n], b.times[:b.n]); err != nil {
		t.Fatal(err)
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.finish(); err != nil {
		t.Fatal(err)
	}
	rows := bytes.Count(one, []byte("\n")) - 1
	if written != rows {
		t.Errorf("the dissector wrote %d records; the capture has %d flows", written, rows)
	}
	// One unit is the meter's next, the others are back with it.
	units := []*unit{s.cur}
	for range splitUnits - 1 {
		units = append(units, <-s.free)
	}
	for _, u := range units {
		if cap(u.recs) > 2*unitRecords {
			t.Errorf("a unit grew to hold %d records, more than %d", cap(u.recs), unitRecords)
		}
	}
}
