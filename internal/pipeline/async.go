package pipeline

import (
	"sync/atomic"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
)

// The sink of a file run (formatting and writing: CSV, JSONL, Parquet,
// compression, rotation, anonymization) runs on a goroutine of its own
// beside the meter: asyncSink. Records travel in batches, copied into
// slots that are reused, so memory between the two is bounded and
// nothing is allocated per record once the slots' sequences have grown.
const (
	// sinkBatch is how many records the meter side collects before
	// handing them over; sinkBatches how many batches exist in all (one
	// being filled, the others queued or being written).
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
	made       int           // batches allocated, at most sinkBatches
	failed     atomic.Pointer[error]
	stopped    bool
	// Set by the writer; read them only after Close or discard.
	written, evicted uint64
}

// sinkBuf is a batch of record slots.
type sinkBuf struct {
	recs [sinkBatch]features.Record
	n    int
}

// newAsyncSink starts the writer of sink, which must have been begun.
func newAsyncSink(sink output.Sink) *asyncSink {
	a := &asyncSink{sink: sink, cur: new(sinkBuf), made: 1, done: make(chan struct{}),
		full: make(chan *sinkBuf, sinkBatches), free: make(chan *sinkBuf, sinkBatches)}
	go a.run()
	return a
}

// Begin begins the sink; call it before any Write, if the sink was not
// begun yet.
func (a *asyncSink) Begin(cols []features.Column) error { return a.sink.Begin(cols) }

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
	a.full <- b
	select {
	case a.cur = <-a.free:
	default:
		// A batch more only when the writer lags: a run whose sink
		// keeps up holds two.
		if a.made < sinkBatches {
			a.cur, a.made = new(sinkBuf), a.made+1
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
		a.full <- a.cur
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
		for i := 0; i < b.n && a.failed.Load() == nil; i++ {
			r := &b.recs[i]
			if err := a.sink.Write(r); err != nil {
				a.fail(err)
				break
			}
			a.written++
			if r.ExpirationID == features.ExpiredEvicted {
				a.evicted++
			}
		}
		b.n = 0
		a.free <- b
	}
}
