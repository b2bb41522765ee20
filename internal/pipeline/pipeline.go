package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/meter"
	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/plugin"
)

// Stats counts what a run did.
type Stats struct {
	Packets   uint64 // records read
	Ignored   uint64 // records the decoder ignored
	Processed uint64 // packets metered
	Flows     uint64 // flows written
	Sources   int    // capture sources opened (file runs)
	// Skipped counts the packets of other shards (FileConfig.Shard),
	// decoded but not metered.
	Skipped uint64
	// Evicted counts the flows written early because a meter held
	// MaxActiveFlows (expiration id 2).
	Evicted uint64
	// LimitReached is true when MaxFlows flows were written, which ends
	// the run.
	LimitReached bool
	// PacketLimitReached is true when MaxPackets packets were read,
	// which ends the run.
	PacketLimitReached bool
	// MaxFlows, MaxPackets and MaxActiveFlows are the run's limits (from
	// Common).
	MaxFlows, MaxPackets, MaxActiveFlows uint64
}

// LimitNotes says, for the run's summary, what the limits did: nothing
// when neither took effect.
func (s *Stats) LimitNotes() string {
	var b strings.Builder
	if s.Evicted > 0 {
		fmt.Fprintf(&b, " (%d flows evicted early: active-flow limit %d)", s.Evicted, s.MaxActiveFlows)
	}
	switch {
	case s.LimitReached:
		fmt.Fprintf(&b, "; stopped at --max-flows %d", s.MaxFlows)
	case s.PacketLimitReached:
		fmt.Fprintf(&b, "; stopped at -c %d packets", s.MaxPackets)
	}
	return b.String()
}

// ErrInterrupted is returned when the context was cancelled; the flows read
// so far were written.
var ErrInterrupted = errors.New("interrupted")

// errStop ends metering once MaxFlows flows are out.
var errStop = errors.New("flow limit reached")

// numberer writes flows to the sink in output order, numbering them from
// 0 (NFStream's id), counts them in st, and returns errStop once limit
// flows are out (0: no limit). With a shard the k-th flow gets
// k*Count + Index, so ids are unique across the shards of a capture.
type numberer struct {
	sink  output.Sink
	limit uint64
	st    *Stats
	shard Shard
}

func (n numberer) write(r *features.Record) error {
	r.ID = n.st.Flows
	if n.shard.on() {
		r.ID = n.st.Flows*uint64(n.shard.Count) + uint64(n.shard.Index)
	}
	if err := n.sink.Write(r); err != nil {
		return err
	}
	n.st.Flows++
	if r.ExpirationID == features.ExpiredEvicted {
		n.st.Evicted++
	}
	if n.limit > 0 && n.st.Flows >= n.limit {
		n.st.LimitReached = true
		return errStop
	}
	return nil
}

// perMeter is each of n meters' share of the bound on active flows.
func perMeter(maxActive uint64, n int) int {
	if maxActive == 0 {
		return 0
	}
	if n < 1 {
		n = 1
	}
	share := (maxActive + uint64(n) - 1) / uint64(n)
	return int(min(share, 1<<62))
}

// setMemoryLimit applies cfg.MemoryLimit, unless GOMEMLIMIT is set, and
// returns what restores the previous limit.
func setMemoryLimit(cfg *Common) (restore func()) {
	if cfg.MemoryLimit == 0 || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(int64(min(cfg.MemoryLimit, 1<<62)))
	return func() { debug.SetMemoryLimit(prev) }
}

// checkEvery is how many records pass between checks of the context.
const checkEvery = 4096

// start begins a run of either kind: it notes the limits in st, wraps
// the sink in the Telemetry's when cfg has one (counting the flows
// written), and begins the sink. wrap, when not nil, wraps the sink
// first, under the Telemetry's (Run's asyncSink, so that the counts do
// not wait for the writer).
func (st *Stats) start(cfg *Common, sink output.Sink, cols []features.Column, wrap func(output.Sink) output.Sink) (output.Sink, error) {
	st.MaxFlows, st.MaxPackets, st.MaxActiveFlows = cfg.MaxFlows, cfg.MaxPackets, cfg.MaxActiveFlows
	if len(cfg.Meter.Plugins) > 0 {
		// The udps columns come from the first flow (plugin.ColumnSink).
		sink = plugin.NewColumnSink(sink)
	}
	if wrap != nil {
		sink = wrap(sink)
	}
	if cfg.Telemetry != nil {
		sink = cfg.Telemetry.Sink(sink)
	}
	return sink, sink.Begin(cols)
}

// Run reads every source through the decoder and the meter into sink, and
// closes the sink. A run that fails before any source could be opened
// (standard input that is not a capture, a signal while a FIFO waits for
// its writer) has read nothing: it aborts a sink that is an
// output.Aborter instead, so an earlier file under the output's name is
// left as it was. cfg must be valid (Validate); an invalid cfg is
// refused before the sink is begun.
func Run(ctx context.Context, cfg FileConfig, sink output.Sink, cols []features.Column) (st Stats, err error) {
	if err := cfg.Validate(); err != nil {
		return st, err
	}
	given := sink
	// Formatting and writing run beside the meter (docs/design.md,
	// "Output"); the numberer counts the flows it hands over, the
	// asyncSink those the sink accepted, which are the flows written.
	var async *asyncSink
	sink, err = st.start(&cfg.Common, sink, cols, func(s output.Sink) output.Sink {
		async = newAsyncSink(s)
		return async
	})
	if err != nil {
		async.discard()
		return st, err
	}
	defer func() {
		if a, ok := given.(output.Aborter); ok && err != nil && st.Sources == 0 {
			async.discard()
			a.Abort()
			return
		}
		if cerr := sink.Close(); cerr != nil && err == nil {
			err = cerr
		}
		st.Flows, st.Evicted = async.written, async.evicted
	}()
	export := numberer{sink: sink, limit: cfg.MaxFlows, st: &st, shard: cfg.Shard}.write
	open := cfg.Open
	if open == nil {
		open = capture.Open
	}
	defer setMemoryLimit(&cfg.Common)()
	if cfg.Telemetry != nil {
		cfg.Telemetry.start(max(cfg.Meters, 1), cfg.Meters > 1, nil)
	}
	if cfg.Meters > 1 {
		cfg.Meter.MaxActive = perMeter(cfg.MaxActiveFlows, cfg.Meters)
		err := meterSharded(ctx, &cfg, open, cfg.Meters, export, &st)
		if err == errStop {
			err = nil
		}
		return st, err
	}
	cfg.Meter.MaxActive = perMeter(cfg.MaxActiveFlows, 1)
	m, err := meter.New(cfg.Meter, export)
	if err != nil {
		return st, err
	}
	defer m.Close()
	err = meterAll(ctx, &cfg, open, m, export, &st)
	st.Processed = m.Processed()
	if err == errStop {
		return st, nil
	}
	return st, err
}

// batchSize is how many decoded packets travel together from the reader to
// a meter; inFlight how many batches circulate between the reader and each
// meter of the sharded path. Batches are large so that the reader and the
// meters hand over rarely: each hand-over may wake a thread, and where the
// goroutines end up sharing cores (a busy or small machine) every switch
// costs more than the packets it moves.
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
	// On the sharded path: the idle scans that fall among the packets,
	// and markers: take part in a round, or in the last round and flush
	// everything at clock tick.
	points     []meter.ScanPoint
	round, end bool
	tick       uint64
}

// arenaSize is the capacity of a batch's arena. A batch whose next packet
// would not fit is handed over early (fits), so arenas never grow (but for
// a single larger packet) and leave no garbage: grown by append, the
// arenas of the sharded path left several times their size behind, and
// on a large capture that garbage stays until the end of the run.
const arenaSize = 512 << 10

// fits reports whether n more bytes fit in the arena, or it is empty.
func (b *batch) fits(n int) bool { return b.n == 0 || len(b.arena)+n <= max(cap(b.arena), arenaSize) }

// keep copies packet i's IP bytes into the arena.
func (b *batch) keep(i int) {
	if b.arena == nil {
		b.arena = make([]byte, 0, arenaSize)
	}
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

// meterAll reads, decodes and meters the sources, a batch at a time, then
// flushes the meter unless the run stopped (errStop), and returns the
// first error of either side. export is the meter's export function.
//
// Without nDPI or plugins one meter reads for itself rather than beside a
// reader goroutine: on the 2-CPU machine this was measured on, whose other
// CPU is often taken, the hand-overs between two threads cost more than
// reading in parallel saved (BenchmarkThroughput: 3.5-4.0M packets/s with a
// reader goroutine, 4.2-4.5M without). With them the meter is several
// times slower than reading, and the packets' bytes are copied anyway: the
// meter then runs on a goroutine of its own (direct.ahead), and the
// reader decodes the next batch meanwhile (without a shard, whose clock
// the reader keeps). With nDPI and no plugin, nDPI then runs on a third
// goroutine behind the meter (splitter). Parallel work otherwise comes
// from several meters (--meters), whose reader shards to them
// (meterSharded).
func meterAll(ctx context.Context, cfg *FileConfig, open func(string) (capture.Source, error), m *meter.Meter,
	export func(*features.Record) error, st *Stats) error {
	d := &direct{m: m, b: new(batch), keep: cfg.Meter.Dissections > 0 || len(cfg.Meter.Plugins) > 0, shard: cfg.Shard.on()}
	r := newReader(cfg, d)
	d.tel = r.counters
	var ahead chan struct{}
	if d.keep && !d.shard {
		depth := inFlight
		if splitNDPI {
			d.split = splitDissection(m, export, func(b *batch) { d.ahead.recycle(b) })
		}
		if d.split != nil {
			// A batch waits for the dissector as well.
			depth += 2
		}
		d.ahead, ahead = newQueue(depth), make(chan struct{})
		d.b, _ = d.ahead.get()
		go func() {
			defer close(ahead)
			d.meterAhead()
		}()
	}
	err := r.readAll(ctx, open)
	if ahead != nil {
		close(d.ahead.full)
		<-ahead
	}
	st.Packets, st.Ignored, st.Sources, st.Skipped = r.packets, r.ignored, r.opened, r.skipped
	st.PacketLimitReached = r.limited
	if d.err == nil && cfg.Shard.on() {
		// The packets of other shards after the last one metered move
		// the clock the end of capture flushes at.
		d.err = m.Advance(d.tick)
	}
	if d.err != nil {
		err = d.err
	}
	if err != errStop {
		// Whatever ended the reading, the flows in memory are written.
		ferr := m.Flush()
		if d.tel != nil {
			d.tel.active.Store(int64(m.ActiveFlows()))
		}
		if ferr != nil && ferr != errStop {
			err = ferr
		}
	}
	if d.split != nil {
		// The dissector writes the records: its error (the sink's; the
		// asyncSink's Close reports it too) is the cause of the meter's
		// errStop. Its errStop is a flow limit, reached as by the meter.
		if serr := d.split.finish(); serr != nil && serr != errStop {
			return serr
		}
	}
	return err
}

// direct is the reader's target for a single meter: it meters each batch
// as soon as it is full.
type direct struct {
	m    *meter.Meter
	b    *batch
	keep bool  // copy packet bytes for the meter (dissection on)
	err  error // the meter's error, which stops the reading
	tel  *meterCounters
	// ahead, when not nil, carries full batches to the meter's own
	// goroutine (meterAhead), which sets err (read it only once that
	// goroutine ended) and closes ahead.done when it fails.
	ahead *queue
	// split, when not nil, runs nDPI behind the meter's goroutine.
	split *splitter
	// With a shard (and only then, off the unsharded path), the clock
	// and scan times of every packet, the meter's own rule
	// (meter.ScanInterval) followed for the packets that other shards
	// keep, so that the idle scans run when one meter of the whole
	// capture would run them.
	shard bool
	scanClock
}

func (d *direct) slot() (*decode.Packet, bool) {
	if d.b == nil {
		return nil, false // the meter's goroutine failed (ahead)
	}
	return &d.b.pkts[d.b.n], d.ahead != nil || d.err == nil
}

func (d *direct) add(t uint64) bool {
	if d.shard {
		d.step(t) // a scan due now the meter runs after this packet itself
	}
	if d.keep && !d.b.fits(len(d.b.pkts[d.b.n].IPContent)) {
		p := d.b.pkts[d.b.n]
		if !d.flush() {
			return false
		}
		d.b.pkts[0] = p
	}
	b := d.b
	b.times[b.n] = t
	if d.keep {
		b.keep(b.n)
	}
	if b.n++; b.n == batchSize {
		return d.flush()
	}
	return true
}

// skip moves the clock for a packet of another shard: when the idle scan
// is due, the packets so far are metered and the meter scans at t.
func (d *direct) skip(t uint64) bool {
	if !d.step(t) {
		return d.err == nil
	}
	if !d.flush() {
		return false
	}
	d.err = d.m.Advance(d.tick)
	return d.err == nil
}

func (d *direct) flush() bool {
	b := d.b
	if d.ahead != nil {
		if b == nil || b.n == 0 {
			return b != nil
		}
		if !d.ahead.send(b) {
			return false
		}
		// nil when the meter's goroutine failed meanwhile.
		var ok bool
		d.b, ok = d.ahead.get()
		return ok
	}
	if b.n > 0 && d.err == nil {
		d.err = d.meter(b)
	}
	b.n, b.arena = 0, b.arena[:0]
	return d.err == nil
}

// meter meters batch b, on the reader's goroutine (flush) or the meter's
// own (meterAhead).
func (d *direct) meter(b *batch) error {
	if d.keep {
		b.resolve()
	}
	err := d.m.ProcessBatch(b.pkts[:b.n], b.times[:b.n])
	if d.tel != nil {
		d.tel.active.Store(int64(d.m.ActiveFlows()))
	}
	return err
}

// meterAhead meters the batches of d.ahead until it is closed. After an
// error it stops the reader and only recycles what still comes.
func (d *direct) meterAhead() {
	for b := range d.ahead.full {
		handed := false
		if d.err == nil && b.n > 0 {
			d.err = d.meter(b)
			if d.err == nil && d.split != nil {
				// The dissector recycles b once done with its bytes.
				d.err = d.split.hand(b)
				handed = d.err == nil
			}
			if d.err != nil {
				close(d.ahead.done)
			}
		}
		if !handed {
			d.ahead.recycle(b)
		}
	}
}

// target receives the reader's decoded packets.
type target interface {
	// slot returns where to decode the next packet; false when the
	// consumer has stopped.
	slot() (*decode.Packet, bool)
	// add commits the packet decoded into the slot, captured at t (ms,
	// not yet clamped); false when the consumer has stopped.
	add(t uint64) bool
	// skip moves the clock to t for a packet of another shard, which is
	// not metered; false when the consumer has stopped.
	skip(t uint64) bool
	// flush sends whatever is buffered; false when the consumer has
	// stopped.
	flush() bool
}

// reader reads the sources in order and decodes them for a target.
type reader struct {
	cfg              *FileConfig
	dec              decode.Decoder
	dst              target
	packets, ignored uint64
	skipped          uint64 // packets of other shards
	bytes            uint64 // frame lengths of the records read
	opened           int    // sources opened
	limited          bool   // stopped at MaxPackets
	err              error
	// With a Telemetry, the reader publishes its counts there (publish).
	tel      *Telemetry
	counters *meterCounters // tel's first meter's, where the reader counts
	// Bytes read from the sources done, and from the current one.
	sourcesDone, sourceBytes uint64
}

func newReader(cfg *FileConfig, dst target) *reader {
	r := &reader{cfg: cfg, dec: decode.Decoder{Options: cfg.Decode}, dst: dst, tel: cfg.Telemetry}
	if r.tel != nil {
		r.counters = r.tel.meter(0)
	}
	return r
}

// publish stores the reader's counts in the Telemetry. It runs before
// every read of the input (capture.ReadHook) and at the end of each
// source, not per record: the counts are current whenever the reading
// waits, and the per-record path counts in plain fields.
func (r *reader) publish() {
	r.counters.packets.Store(r.packets)
	r.counters.ignored.Store(r.ignored)
	r.counters.bytes.Store(r.bytes)
	r.tel.sourceBytes.Store(r.sourcesDone + r.sourceBytes)
}

func (r *reader) readAll(ctx context.Context, open func(string) (capture.Source, error)) error {
	for _, name := range r.cfg.Sources {
		src, err := openSource(ctx, open, name)
		if err != nil {
			return err
		}
		r.opened++
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
		if r.limited {
			return nil
		}
	}
	return nil
}

// openSource opens a source, or returns ErrInterrupted once ctx is done
// if opening waits for input (a pipe or FIFO with nothing written yet);
// a source opened after that is closed.
func openSource(ctx context.Context, open func(string) (capture.Source, error), name string) (capture.Source, error) {
	if ctx.Err() != nil {
		return nil, ErrInterrupted
	}
	if ctx.Done() == nil {
		return open(name)
	}
	type opened struct {
		src capture.Source
		err error
	}
	c := make(chan opened, 1)
	go func() {
		src, err := open(name)
		c <- opened{src, err}
	}()
	select {
	case o := <-c:
		return o.src, o.err
	case <-ctx.Done():
		go func() {
			if o := <-c; o.src != nil {
				o.src.Close()
			}
		}()
		return nil, ErrInterrupted
	}
}

// readSource decodes the packets of one source for the target; the caller
// flushes the target.
func (r *reader) readSource(ctx context.Context, name string, src capture.Source) error {
	var pkt capture.Packet
	checked := capture.LinkType(1<<32 - 1)
	if r.tel != nil {
		if h, ok := src.(capture.ReadHook); ok {
			h.OnRead(func(n uint64) { r.sourceBytes = n; r.publish() })
		}
		defer func() {
			r.sourcesDone, r.sourceBytes = r.sourcesDone+r.sourceBytes, 0
			r.publish()
		}()
	}
	// A read waiting for input (a quiet pipe) ends when ctx is done.
	if i, ok := src.(capture.Interrupter); ok {
		defer context.AfterFunc(ctx, i.Interrupt)()
	}
	for {
		if r.cfg.MaxPackets > 0 && r.packets >= r.cfg.MaxPackets {
			r.limited = true
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
			if ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				return ErrInterrupted
			}
			return err
		}
		r.packets++
		r.bytes += uint64(pkt.Len)
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
		if r.cfg.Shard.on() && ShardOf(p.Hash, r.cfg.Shard.Count) != r.cfg.Shard.Index {
			r.skipped++
			if !r.dst.skip(pkt.TimeMS()) {
				return errStop
			}
			continue
		}
		if !r.dst.add(pkt.TimeMS()) {
			return errStop
		}
	}
}
