package pipeline

import (
	"runtime"
	"sync/atomic"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
)

// The sink of a file run (formatting and writing: CSV, JSONL, Parquet,
// compression, rotation, anonymization) runs on a goroutine of its own
// beside the meter: asyncSink. Records travel in batches, copied into
// slots that are reused, so memory between the two is bounded and
// nothing is allocated per record once the slots' sequences have grown.
// When the sink's rows can be formatted apart from their writing
// (output.RowSink: CSV and JSONL files), formatters on as many goroutines
// as there are cores format whole batches at once, and the writer writes
// their rows in order.
const (
	// sinkBatch is how many records the meter side collects before
	// handing them over; sinkBatches how many batches exist in all (one
	// being filled, the others queued or being written), plus two for
	// each formatter.
	sinkBatch   = 256
	sinkBatches = 4
)

// asyncSink writes records to sink on a goroutine of its own, in the
// order of the Write calls. Write copies the record (it is only valid
// during the call) and returns at once unless every batch is taken, which
// bounds memory: the meter waits for the sink then. The first error of
// the sink ends the writing: the records after it are dropped, and Write
// returns that error from then on (at the latest when it hands over the
// next batch), as does Close. It counts the records the sink accepted
// (Written, Evicted), which are the flows written.
type asyncSink struct {
	sink       output.Sink
	cur        *sinkBuf
	full, free chan *sinkBuf
	done       chan struct{} // closed when the writer has ended
	made, most int           // batches allocated, and at most
	failed     atomic.Pointer[error]
	stopped    bool
	// With formatters: the sink's rows (output.RowSink), and the
	// formatters' queue, which gets every batch as full does.
	rows   output.RowFormat
	format chan *sinkBuf
	// Set by the writer; read them only after Close or discard.
	written, evicted uint64
}

// sinkBuf is a batch of record slots; with formatters, also their rows,
// and a token sent when they are ready.
type sinkBuf struct {
	recs  [sinkBatch]features.Record
	n     int
	rows  []byte
	ready chan struct{}
}

// newAsyncSink starts the writer of sink. Begin begins sink and, if its
// rows can be formatted apart (output.RowSink), starts formatters.
func newAsyncSink(sink output.Sink) *asyncSink {
	room := sinkBatches + 2*formatters()
	a := &asyncSink{sink: sink, cur: newSinkBuf(), made: 1, most: sinkBatches, done: make(chan struct{}),
		full: make(chan *sinkBuf, room), free: make(chan *sinkBuf, room)}
	go a.run()
	return a
}

func newSinkBuf() *sinkBuf { return &sinkBuf{ready: make(chan struct{}, 1)} }

// formatters is how many goroutines format rows: one per core.
func formatters() int { return runtime.GOMAXPROCS(0) }

// Begin begins the sink; call it before any Write.
func (a *asyncSink) Begin(cols []features.Column) error {
	if err := a.sink.Begin(cols); err != nil {
		return err
	}
	if rs, ok := a.sink.(output.RowSink); ok {
		if rows := rs.Rows(); rows != nil {
			a.rows = rows
			a.most += 2 * formatters()
			a.format = make(chan *sinkBuf, a.most)
			for range formatters() {
				go a.formatRows()
			}
		}
	}
	return nil
}

// formatRows formats the batches of the formatters' queue until it is
// closed.
func (a *asyncSink) formatRows() {
	for b := range a.format {
		rows := b.rows[:0]
		for i := range b.n {
			rows = a.rows(rows, &b.recs[i])
		}
		b.rows = rows
		b.ready <- struct{}{}
	}
}

// hand gives the writer (and the formatters) a full batch.
func (a *asyncSink) hand(b *sinkBuf) {
	if a.format != nil {
		a.format <- b
	}
	a.full <- b
}

// Write queues a copy of r; see asyncSink.
func (a *asyncSink) Write(r *features.Record) error {
	if err := a.err(); err != nil {
		return err
	}
	b := a.cur
	b.recs[b.n].CopyFrom(r)
	if b.n++; b.n < sinkBatch {
		return nil
	}
	a.hand(b)
	select {
	case a.cur = <-a.free:
	default:
		// A batch more only when the writer lags: a run whose sink
		// keeps up holds two.
		if a.made < a.most {
			a.cur, a.made = newSinkBuf(), a.made+1
		} else {
			a.cur = <-a.free
		}
	}
	return a.err()
}

// Close writes what is queued, ends the writer and closes the sink. It
// returns the sink's first error, from Write or Close.
func (a *asyncSink) Close() error {
	a.stop()
	err := a.err()
	if cerr := a.sink.Close(); err == nil {
		err = cerr
	}
	return err
}

// discard ends the writer without writing what is queued and without
// closing the sink (for a run that aborts its output instead).
func (a *asyncSink) discard() {
	a.fail(output.ErrAborted)
	a.cur.n = 0
	a.stop()
}

// stop hands over the last batch and waits for the writer to end.
func (a *asyncSink) stop() {
	if a.stopped {
		return
	}
	a.stopped = true
	if a.cur.n > 0 {
		a.hand(a.cur)
	}
	if a.format != nil {
		close(a.format)
	}
	close(a.full)
	<-a.done
}

// fail notes err unless an error was noted before. (A function of its
// own: taking the address of the writer's error variable would allocate
// it for every record.)
func (a *asyncSink) fail(err error) { a.failed.CompareAndSwap(nil, &err) }

func (a *asyncSink) err() error {
	if p := a.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// run is the writer: it writes the batches in order until the first error,
// then only recycles them.
func (a *asyncSink) run() {
	defer close(a.done)
	for b := range a.full {
		var n int
		if a.format != nil {
			n = a.writeRows(b)
		} else {
			n = a.writeRecords(b)
		}
		a.written += uint64(n)
		for i := range n {
			if b.recs[i].ExpirationID == features.ExpiredEvicted {
				a.evicted++
			}
		}
		b.n = 0
		a.free <- b
	}
}

// writeRecords writes batch b record by record, unless writing failed
// before, and returns how many records the sink took.
func (a *asyncSink) writeRecords(b *sinkBuf) int {
	for i := 0; i < b.n; i++ {
		if a.failed.Load() != nil {
			return i
		}
		if err := a.sink.Write(&b.recs[i]); err != nil {
			a.fail(err)
			return i
		}
	}
	return b.n
}

// writeRows writes the rows of batch b once formatted, unless writing
// failed before, and returns how many records were written: all of the
// batch's when all its rows were, else none.
func (a *asyncSink) writeRows(b *sinkBuf) int {
	<-b.ready
	if a.failed.Load() != nil {
		return 0
	}
	if err := a.sink.(output.RowSink).WriteRows(b.rows); err != nil {
		a.fail(err)
		return 0
	}
	return b.n
}
