package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
	"github.com/nfstream-go/nfstream/internal/testing/testgen"
)

// slowSink passes records to a sink, pausing every few records so the
// meter fills every batch of the asyncSink and waits for the writer; it
// fails with failErr at record failAt (counting from 1; 0: never) and
// counts the calls it got after that.
type slowSink struct {
	output.Sink
	every   int
	failAt  int
	failErr error
	calls   int
	late    int // calls after the failure
}

func (s *slowSink) Write(r *features.Record) error {
	s.calls++
	if s.failAt > 0 && s.calls > s.failAt {
		s.late++
		return s.failErr
	}
	if s.failAt > 0 && s.calls == s.failAt {
		return s.failErr
	}
	if s.every > 0 && s.calls%s.every == 0 {
		time.Sleep(time.Millisecond)
	}
	return s.Sink.Write(r)
}

// synscan is the corpus capture with the most flows (1994), more than
// the asyncSink's batches hold together.
func synscan(t *testing.T) (path string, theirs *corpus.Table) {
	dir := corpus.Dir(t)
	theirs, err := corpus.ReadCSV(filepath.Join(dir, "full", "synscan.pcap.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(theirs.Rows) <= sinkBatch*sinkBatches {
		t.Fatalf("synscan.pcap: %d flows; the test needs more than %d", len(theirs.Rows), sinkBatch*sinkBatches)
	}
	return filepath.Join(dir, "pcaps", "synscan.pcap"), theirs
}

// TestAsyncSinkSlow: with a sink slower than the meter, the rows keep
// NFStream's order and ids (every non-nDPI column against NFStream's
// full/ output), and every flow is counted once.
func TestAsyncSinkSlow(t *testing.T) {
	path, theirs := synscan(t)
	schema := features.Schema{Tunnel: true, Stats: true, SPLT: true}
	for _, meters := range []int{1, 2} {
		var buf bytes.Buffer
		sink := &slowSink{Sink: output.NewCSV(&buf, "buffer"), every: 64}
		cfg := nfstreamDefaults([]string{path}, features.AccountLink, true, 10)
		cfg.Meters = meters
		st, err := Run(context.Background(), cfg, sink, schema.Columns())
		if err != nil {
			t.Fatal(err)
		}
		ours, err := corpus.ParseCSV(buf.String())
		if err != nil {
			t.Fatal(err)
		}
		if err := compareTables(ours, theirs, nonDPIColumns(theirs)); err != nil {
			t.Errorf("%d meters: %v", meters, err)
		}
		if st.Flows != uint64(len(theirs.Rows)) || sink.calls != len(theirs.Rows) {
			t.Errorf("%d meters: %d flows counted, %d written; NFStream has %d", meters, st.Flows, sink.calls, len(theirs.Rows))
		}
	}
}

// TestAsyncSinkFails: a sink that fails in the middle of a run (a full
// disk) stops it with its error; the flows before it are written, in
// order, and counted, and nothing after it is given to the sink or
// claimed written. The flows of the generated capture expire while it is
// read (200 s of packets, idle timeout 1 s), and the reading stops before
// half of it (several meters write after rounds of 16384 packets).
func TestAsyncSinkFails(t *testing.T) {
	path, err := testgen.LargeFile(t.TempDir(), testgen.LargeConfig{Packets: 60_000, Flows: 6000, Concurrent: 300, PacketsPerSecond: 300})
	if err != nil {
		t.Fatal(err)
	}
	errFull := errors.New("write \"flows.csv\": no space left on device")
	const failAt = sinkBatch*2 + 10
	cols := features.Schema{Tunnel: true}.Columns()
	for _, meters := range []int{1, 2} {
		cfg := nfstreamDefaults([]string{path}, features.AccountLink, false, 0)
		cfg.Meter.IdleTimeout = 1000
		cfg.Meters = meters
		var whole bytes.Buffer
		all, err := Run(context.Background(), cfg, output.NewCSV(&whole, "buffer"), cols)
		if err != nil {
			t.Fatal(err)
		}

		var buf bytes.Buffer
		sink := &slowSink{Sink: output.NewCSV(&buf, "buffer"), failAt: failAt, failErr: errFull}
		st, err := Run(context.Background(), cfg, sink, cols)
		if err != errFull {
			t.Fatalf("%d meters: error %v; want %v", meters, err, errFull)
		}
		if sink.late != 0 || sink.calls != failAt {
			t.Errorf("%d meters: the sink got %d writes, %d of them after it failed; want %d and 0", meters, sink.calls, sink.late, failAt)
		}
		if st.Flows != failAt-1 {
			t.Errorf("%d meters: %d flows claimed written; the sink took %d", meters, st.Flows, failAt-1)
		}
		if lines := strings.SplitAfterN(whole.String(), "\n", failAt+1); buf.String() != strings.Join(lines[:failAt], "") {
			t.Errorf("%d meters: the rows written before the failure are not the first %d rows of the whole run", meters, failAt-1)
		}
		if st.Packets >= all.Packets/2 {
			t.Errorf("%d meters: %d of %d packets read after the sink failed at flow %d of %d", meters, st.Packets, all.Packets, failAt, all.Flows)
		}
	}
}

// checkSink checks that record k arrives with id k and the values
// TestAsyncSinkCopies gave it.
type checkSink struct {
	t    *testing.T
	next uint64
}

func (c *checkSink) Begin([]features.Column) error { return nil }
func (c *checkSink) Close() error                  { return nil }
func (c *checkSink) Write(r *features.Record) error {
	want := strconv.FormatUint(c.next, 10)
	if r.ID != c.next || r.SPLTPS[0] != int32(c.next) || r.SPLTPIAT[len(r.SPLTPIAT)-1] != int64(c.next) || r.L7.Application != want {
		c.t.Errorf("record %d arrived as id %d, splt %d/%d, application %q", c.next, r.ID, r.SPLTPS[0], r.SPLTPIAT[len(r.SPLTPIAT)-1], r.L7.Application)
	}
	c.next++
	return nil
}

// TestAsyncSinkCopies writes one record, changed in place after every
// Write as the meter reuses it, from one goroutine while the writer
// reads the copies on another: each arrives as it was written (under
// -race, also without a data race).
func TestAsyncSinkCopies(t *testing.T) {
	check := &checkSink{t: t}
	a := newAsyncSink(check)
	r := &features.Record{SPLTPS: make([]int32, 10), SPLTPIAT: make([]int64, 10), SPLTDirection: make([]int8, 10), L7: &features.L7{}}
	const n = sinkBatch*sinkBatches*3 + 7
	for i := range uint64(n) {
		r.ID = i
		r.SPLTPS[0], r.SPLTPIAT[9] = int32(i), int64(i)
		r.L7.Application = strconv.FormatUint(i, 10)
		if i%5 == 0 {
			r.ExpirationID = features.ExpiredEvicted
		} else {
			r.ExpirationID = features.ExpiredIdle
		}
		if err := a.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if check.next != n || a.written != n || a.evicted != (n+4)/5 {
		t.Errorf("%d records written, %d arrived, %d counted, %d evicted", n, check.next, a.written, a.evicted)
	}
}

// TestAsyncSinkCloseError: an error the sink reports only when closed
// (the last bytes did not fit) is Close's error.
func TestAsyncSinkCloseError(t *testing.T) {
	a := newAsyncSink(output.NewCSV(failingWriter{}, "flows.csv"))
	a.Write(&features.Record{})
	err := a.Close()
	if err == nil || !strings.Contains(err.Error(), `write "flows.csv"`) {
		t.Errorf("Close: %v; want the sink's write error", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestAsyncSinkAllocs: once its slots have grown, the asyncSink allocates
// nothing per record, on either side, writing record by record or with
// formatters (CSV rows).
func TestAsyncSinkAllocs(t *testing.T) {
	cols := features.Schema{Tunnel: true, Stats: true, SPLT: true}.Columns()
	for _, sink := range []output.Sink{&countSink{}, output.NewCSV(io.Discard, "discard")} {
		a := newAsyncSink(sink)
		if err := a.Begin(cols); err != nil {
			t.Fatal(err)
		}
		if _, rows := sink.(output.RowSink); rows != (a.format != nil) {
			t.Fatalf("%T: formatters %v; want them exactly for a RowSink", sink, a.format != nil)
		}
		r := &features.Record{SPLTPS: make([]int32, 10), SPLTPIAT: make([]int64, 10), SPLTDirection: make([]int8, 10)}
		for range sinkBatch * a.most * 2 {
			a.Write(r)
		}
		if n := testing.AllocsPerRun(sinkBatch*a.most*4, func() { a.Write(r) }); n != 0 {
			t.Errorf("%T: %v allocations per record", sink, n)
		}
		a.Close()
	}
}

// serialSink hides a sink's rows (output.RowSink): the asyncSink then
// writes it record by record, on its writer alone.
type serialSink struct{ output.Sink }

// textFormats are the sinks whose rows formatters make.
var textFormats = []struct {
	name string
	make func(io.Writer) output.Sink
}{
	{"csv", func(w io.Writer) output.Sink { return output.NewCSV(w, "flows.csv") }},
	{"jsonl", func(w io.Writer) output.Sink { return output.NewJSONL(w, "flows.jsonl") }},
}

// TestAsyncSinkRows: the rows formatters make on several goroutines are
// byte for byte those the sink writes record by record, in CSV and JSONL,
// with 1 and 2 meters, and every flow is counted once. (The conformance
// tests check the same CSV path against NFStream's values.)
func TestAsyncSinkRows(t *testing.T) {
	path, theirs := synscan(t)
	cols := features.Schema{Tunnel: true, Stats: true, SPLT: true}.Columns()
	for _, meters := range []int{1, 2} {
		cfg := nfstreamDefaults([]string{path}, features.AccountLink, true, 10)
		cfg.Meters = meters
		for _, f := range textFormats {
			var rows, serial bytes.Buffer
			st, err := Run(context.Background(), cfg, f.make(&rows), cols)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Run(context.Background(), cfg, serialSink{f.make(&serial)}, cols); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rows.Bytes(), serial.Bytes()) {
				t.Errorf("%s, %d meters: the formatters' rows differ from the sink's own (%d and %d bytes)", f.name, meters, rows.Len(), serial.Len())
			}
			if n := bytes.Count(rows.Bytes(), []byte("\n")); st.Flows != uint64(len(theirs.Rows)) || n < len(theirs.Rows) {
				t.Errorf("%s, %d meters: %d flows counted, %d lines; NFStream has %d flows", f.name, meters, st.Flows, n, len(theirs.Rows))
			}
		}
	}
}

// fullDisk accepts limit bytes, then fails every write.
type fullDisk struct {
	bytes.Buffer
	limit int
}

func (d *fullDisk) Write(p []byte) (int, error) {
	if d.Len()+len(p) > d.limit {
		return 0, errors.New("no space left on device")
	}
	return d.Buffer.Write(p)
}

// TestAsyncSinkRowsFail: when the file fails under the formatters, the
// run stops with the file's error, what reached the file is the start of
// the whole run's output, and fewer flows are counted than the run has.
func TestAsyncSinkRowsFail(t *testing.T) {
	path, theirs := synscan(t)
	cols := features.Schema{Tunnel: true, Stats: true, SPLT: true}.Columns()
	cfg := nfstreamDefaults([]string{path}, features.AccountLink, true, 10)
	for _, f := range textFormats {
		var whole bytes.Buffer
		if _, err := Run(context.Background(), cfg, f.make(&whole), cols); err != nil {
			t.Fatal(err)
		}
		disk := &fullDisk{limit: whole.Len() / 3}
		st, err := Run(context.Background(), cfg, f.make(disk), cols)
		if err == nil || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), "flows.") {
			t.Errorf("%s: error %v; want the file's, naming it", f.name, err)
		}
		if disk.Len() == 0 || !bytes.HasPrefix(whole.Bytes(), disk.Bytes()) {
			t.Errorf("%s: the %d bytes written are not the start of the run's output", f.name, disk.Len())
		}
		if st.Flows >= uint64(len(theirs.Rows)) {
			t.Errorf("%s: %d flows claimed written of %d, with a third of the bytes", f.name, st.Flows, len(theirs.Rows))
		}
	}
}
