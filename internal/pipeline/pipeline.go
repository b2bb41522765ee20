package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/meter"
	"github.com/nfstream-go/nfstream/internal/output"
)

// Config configures a run over capture files.
type Config struct {
	// Sources are capture files read in order as one capture; "-" is
	// standard input.
	Sources []string
	Decode  decode.Options
	Meter   meter.Config
	// MaxFlows stops the run after that many flows (0: no limit).
	MaxFlows uint64
	// MaxPackets stops reading after that many records (0: no limit).
	MaxPackets uint64
	// Open opens a source; nil means capture.Open.
	Open func(name string) (capture.Source, error)
	// Meters is the number of meters packets are sharded to (0 or 1: one).
	// The output is the same whatever the number.
	Meters int
	// Telemetry, if set, counts a live run's work as it goes (RunLive).
	Telemetry *Telemetry
}

// Stats counts what a run did.
type Stats struct {
	Packets   uint64 // records read
	Ignored   uint64 // records the decoder ignored
	Processed uint64 // packets metered
	Flows     uint64 // flows written
}

// ErrInterrupted is returned when the context was cancelled; the flows read
// so far were written.
var ErrInterrupted = errors.New("interrupted")

// errStop ends metering once MaxFlows flows are out.
var errStop = errors.New("flow limit reached")

// numberer writes flows to the sink in output order, numbering them from
// 0 (NFStream's id), and returns errStop once limit flows are out (0: no
// limit).
type numberer struct {
	sink  output.Sink
	limit uint64
	flows *uint64 // flows written so far
}

func (n numberer) write(r *features.Record) error {
	r.ID = *n.flows
	if err := n.sink.Write(r); err != nil {
		return err
	}
	*n.flows++
	if n.limit > 0 && *n.flows >= n.limit {
		return errStop
	}
	return nil
}

// checkEvery is how many records pass between checks of the context.
const checkEvery = 4096

// Run reads every source through the decoder and the meter into sink, and
// closes the sink.
func Run(ctx context.Context, cfg Config, sink output.Sink, cols []features.Column) (st Stats, err error) {
	if err := sink.Begin(cols); err != nil {
		return st, err
	}
	defer func() {
		if cerr := sink.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	export := numberer{sink: sink, limit: cfg.MaxFlows, flows: &st.Flows}.write
	open := cfg.Open
	if open == nil {
		open = capture.Open
	}
	if cfg.Meters > 1 {
		err := meterSharded(ctx, &cfg, open, cfg.Meters, export, &st)
		if err == errStop {
			err = nil
		}
		return st, err
	}
	m, err := meter.New(cfg.Meter, export)
	if err != nil {
		return st, err
	}
	defer m.Close()
	readErr := meterAll(ctx, &cfg, open, m, &st)
	st.Processed = m.Processed()
	if readErr == errStop {
		return st, nil
	}
	// Whatever ended the reading, the flows in memory are written.
	if err := m.Flush(); err != nil && err != errStop {
		return st, err
	}
	return st, readErr
}

// batchSize is how many decoded packets travel together from the reader to
// the meter; inFlight how many batches circulate between them. Batches are
// large so that the reader and the meter hand over rarely: each hand-over
// may wake a thread, and where the two goroutines end up sharing one core
// (a busy or small machine) every switch between them costs more than the
// packets it moves. 1024 packets ran the benchmark as fast as reading and
// metering in one goroutine on such a machine, where 64 were 25% slower.
const (
	batchSize = 1024
	inFlight  = 4
)

// batch is a run of decoded packets. A packet's IPContent points into the
// capture's buffer, which the reader reuses; when the meter needs the bytes
// (for nDPI) the reader copies them into the batch's arena, and the meter
// side points IPContent there before metering.
type batch struct {
	pkts  [batchSize]decode.Packet
	times [batchSize]uint64
	seqs  [batchSize]uint64 // packet indexes (sharded path)
	ipEnd [batchSize]int    // end of each packet's bytes in arena
	arena []byte
	n     int
	// The sharded path also sends markers: run the idle scan that follows
	// packet event at clock tick, or flush everything at the end.
	barrier, end bool
	event, tick  uint64
}

// keep copies packet i's IP bytes into the arena.
func (b *batch) keep(i int) {
	b.arena = append(b.arena, b.pkts[i].IPContent...)
	b.ipEnd[i] = len(b.arena)
}

// resolve points each packet's IPContent into the arena.
func (b *batch) resolve() {
	start := 0
	for i := 0; i < b.n; i++ {
		b.pkts[i].IPContent = b.arena[start:b.ipEnd[i]:b.ipEnd[i]]
		start = b.ipEnd[i]
	}
}

// meterAll reads and decodes the sources in a goroutine of their own and
// meters the batches it hands over here, in order; batches are recycled.
// It returns the first error of either side.
func meterAll(ctx context.Context, cfg *Config, open func(string) (capture.Source, error), m *meter.Meter, st *Stats) error {
	q := newQueue(inFlight)
	keep := cfg.Meter.Dissections > 0
	b := &batcher{q: q, keepBytes: keep}
	r := reader{cfg: cfg, dec: decode.Decoder{Options: cfg.Decode}, dst: b}
	go func() {
		r.err = r.readAll(ctx, open)
		close(q.full)
	}()
	var meterErr error
	for bt := range q.full {
		if keep {
			bt.resolve()
		}
		if meterErr == nil {
			meterErr = m.ProcessBatch(bt.pkts[:bt.n], bt.times[:bt.n])
			if meterErr != nil {
				close(q.done) // tell the reader to stop; drain what it sent
			}
		}
		q.recycle(bt)
	}
	st.Packets, st.Ignored = r.packets, r.ignored
	if meterErr != nil {
		return meterErr
	}
	return r.err
}

// queue carries batches from the reader to one consumer and back.
type queue struct {
	full, free chan *batch
	done       chan struct{} // closed by the consumer when it stops early
}

func newQueue(n int) *queue {
	q := &queue{full: make(chan *batch, n), free: make(chan *batch, n), done: make(chan struct{})}
	for i := 0; i < n; i++ {
		q.free <- new(batch)
	}
	return q
}

// send hands b to the consumer; false when the consumer has stopped.
func (q *queue) send(b *batch) bool {
	select {
	case q.full <- b:
		return true
	case <-q.done:
		return false
	}
}

// get returns an empty batch; false when the consumer has stopped.
func (q *queue) get() (*batch, bool) {
	select {
	case b := <-q.free:
		return b, true
	case <-q.done:
		return nil, false
	}
}

func (q *queue) recycle(b *batch) {
	b.n, b.arena, b.barrier, b.end = 0, b.arena[:0], false, false
	q.free <- b
}

// target receives the reader's decoded packets.
type target interface {
	// slot returns where to decode the next packet; false when the
	// consumer has stopped.
	slot() (*decode.Packet, bool)
	// add commits the packet decoded into the slot, captured at t (ms,
	// not yet clamped); false when the consumer has stopped.
	add(t uint64) bool
	// flush sends whatever is buffered; false when the consumer has
	// stopped.
	flush() bool
}

// batcher is the target of the single-meter path: it fills one batch at a
// time.
type batcher struct {
	q         *queue
	cur       *batch
	keepBytes bool // copy packet bytes for the meter (dissection on)
}

func (b *batcher) slot() (*decode.Packet, bool) {
	if b.cur == nil {
		var ok bool
		if b.cur, ok = b.q.get(); !ok {
			return nil, false
		}
	}
	return &b.cur.pkts[b.cur.n], true
}

func (b *batcher) add(t uint64) bool {
	c := b.cur
	c.times[c.n] = t
	if b.keepBytes {
		c.keep(c.n)
	}
	if c.n++; c.n == batchSize {
		return b.flush()
	}
	return true
}

func (b *batcher) flush() bool {
	if b.cur == nil || b.cur.n == 0 {
		return true
	}
	c := b.cur
	b.cur = nil
	return b.q.send(c)
}

// reader reads the sources in order and decodes them for a target.
type reader struct {
	cfg              *Config
	dec              decode.Decoder
	dst              target
	packets, ignored uint64
	err              error
}

func (r *reader) readAll(ctx context.Context, open func(string) (capture.Source, error)) error {
	for _, name := range r.cfg.Sources {
		src, err := open(name)
		if err != nil {
			return err
		}
		err = r.readSource(ctx, name, src)
		if !r.dst.flush() && err == nil {
			err = errStop
		}
		if cerr := src.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %q: %w", name, cerr)
		}
		if err != nil {
			return err
		}
		if r.cfg.MaxPackets > 0 && r.packets >= r.cfg.MaxPackets {
			return nil
		}
	}
	return nil
}

// readSource decodes the packets of one source for the target; the caller
// flushes the target.
func (r *reader) readSource(ctx context.Context, name string, src capture.Source) error {
	var pkt capture.Packet
	checked := capture.LinkType(1<<32 - 1)
	for {
		if r.cfg.MaxPackets > 0 && r.packets >= r.cfg.MaxPackets {
			return nil
		}
		if r.packets%checkEvery == 0 && ctx.Err() != nil {
			return ErrInterrupted
		}
		p, ok := r.dst.slot()
		if !ok {
			return errStop
		}
		err := src.Next(&pkt)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		r.packets++
		if pkt.LinkType != checked {
			if !decode.Supported(pkt.LinkType) {
				return fmt.Errorf("%q: link type %d is not supported", name, pkt.LinkType)
			}
			checked = pkt.LinkType
		}
		if !r.dec.Decode(pkt.LinkType, pkt.Data, pkt.Len, p) {
			r.ignored++
			continue
		}
		if !r.dst.add(TimeMS(pkt.Sec, pkt.Usec)) {
			return errStop
		}
	}
}

// TimeMS converts libpcap's timeval to NFStream's packet time in ms:
// tv_sec*1000 + tv_usec/1000 computed in C's uint64 arithmetic, so negative
// values wrap as they do in NFStream.
func TimeMS(sec, usec int64) uint64 {
	return uint64(sec)*1000 + uint64(usec/1000)
}
