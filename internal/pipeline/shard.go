package pipeline

import (
	"context"
	"sync"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/meter"
)

// Several meters, the same output as one (docs/compatibility.md item 5;
// docs/design.md, "Several meters").
//
// The reader shards packets to meters by a direction-symmetric hash, so a
// flow lives in one meter, and clamps packet time for the whole capture as
// a single meter would. Expiry by a flow's own packet is local to its
// meter. NFStream's idle scan is not: it walks all flows in creation order
// and stops at the first one that is not idle. So the reader decides when
// scans happen (every 10 ms of packet time, as a single meter does) and
// sends every meter a barrier; each meter reports the creation indexes of
// its leading idle flows, the coordinator picks the ones a single meter's
// scan would expire, and the meters expire them. Every record carries its
// place in a single meter's export order (features.Order), and the
// coordinator merges the records of each round in that order. The rows,
// their order and their ids are therefore those of one meter, whatever the
// number of meters.

// shardOf maps NFStream's direction-symmetric packet hash to one of n
// meters, mixing it first so that sums of nearby addresses spread well.
func shardOf(h uint32, n int) int {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return int(h % uint32(n))
}

// sharder is the reader's target on the sharded path.
type sharder struct {
	qs        []*queue
	cur       []*batch
	tmp       decode.Packet
	keepBytes bool
	tick      uint64 // largest packet time so far
	scanTick  uint64
	seq       uint64 // index of the next metered packet
	// sinceRound counts the packets sent since the last round.
	sinceRound int
}

// syncEvery is how many packets may pass without a round before the reader
// sends a sync round, which only merges and writes what the meters
// exported so far. Scan rounds come every 10 ms of packet time; without
// them (packets with equal or coarse times) the records a meter exports at
// packets (timeouts, and evictions when a meter is full, one per new flow)
// would wait in its outbox for the next round. Everything exported before
// the marker precedes, in features.Order, everything exported after it, so
// merging then keeps the order.
const syncEvery = 16384

func (s *sharder) slot() (*decode.Packet, bool) { return &s.tmp, true }

func (s *sharder) add(t uint64) bool {
	if t > s.tick {
		s.tick = t
	}
	t = s.tick
	scan := s.tick-s.scanTick >= meter.ScanInterval
	if scan {
		s.scanTick = s.tick
	}
	k := shardOf(s.tmp.Hash, len(s.qs))
	if s.cur[k] == nil {
		b, ok := s.qs[k].get()
		if !ok {
			return false
		}
		s.cur[k] = b
	}
	b := s.cur[k]
	b.pkts[b.n], b.times[b.n], b.seqs[b.n] = s.tmp, t, s.seq
	if s.keepBytes {
		b.keep(b.n)
	}
	b.n++
	event := s.seq
	s.seq++
	if b.n == batchSize {
		s.cur[k] = nil
		if !s.qs[k].send(b) {
			return false
		}
	}
	if s.sinceRound++; scan {
		s.sinceRound = 0
		return s.broadcast(func(b *batch) { b.barrier, b.event, b.tick = true, event, s.tick })
	}
	if s.sinceRound >= syncEvery {
		s.sinceRound = 0
		return s.broadcast(func(b *batch) { b.sync = true })
	}
	return true
}

// skip moves the clock for a packet of another shard (FileConfig.Shard):
// when the idle scan is due, the meters get a barrier after the last
// packet metered, as they would at a packet.
func (s *sharder) skip(t uint64) bool {
	if t > s.tick {
		s.tick = t
	}
	if s.tick-s.scanTick < meter.ScanInterval {
		return true
	}
	s.scanTick = s.tick
	if s.seq == 0 {
		return true // no flow yet: nothing to scan
	}
	s.sinceRound = 0
	event := s.seq - 1
	return s.broadcast(func(b *batch) { b.barrier, b.event, b.tick = true, event, s.tick })
}

// broadcast sends every meter its pending packets, then a marker.
func (s *sharder) broadcast(mark func(*batch)) bool {
	if !s.flush() {
		return false
	}
	for _, q := range s.qs {
		b, ok := q.get()
		if !ok {
			return false
		}
		mark(b)
		if !q.send(b) {
			return false
		}
	}
	return true
}

func (s *sharder) flush() bool {
	for k, b := range s.cur {
		if b != nil {
			s.cur[k] = nil
			if !s.qs[k].send(b) {
				return false
			}
		}
	}
	return true
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
	b.n, b.arena, b.barrier, b.end, b.sync = 0, b.arena[:0], false, false, false
	q.free <- b
}

// roundMsg is what a meter tells the coordinator at a barrier or at the end.
type roundMsg struct {
	end   bool
	sync  bool     // a sync round: nothing to scan
	cands []uint64 // creation indexes of the leading idle flows
	bound uint64   // creation index of the first flow not in cands
}

// outbox holds copies of records a meter exported during a round; last
// marks the meter's final outbox of the round.
type outbox struct {
	recs []features.Record
	last bool
	// err, on the last outbox, is the meter's own failure (a plugin's):
	// the run ends with it once the other meters' flows are written.
	err error
}

// endChunk is how many records a meter hands over at a time while it
// flushes at the end of the capture, so the merge streams instead of
// holding every remaining flow of every meter at once.
const endChunk = 4096

// usedBoxes is how many written outboxes a meter keeps for reuse.
const usedBoxes = 4

// shardedMeter runs one meter of the sharded path. Its channels to the
// coordinator are its own, so each round's messages cannot mix with the
// next round's.
type shardedMeter struct {
	m       *meter.Meter
	rounds  chan roundMsg
	replies chan uint64
	outs    chan outbox
	// used takes outboxes back from the coordinator once written, so their
	// records (and the records' sequences) serve again.
	used  chan outbox
	q     *queue
	out   outbox
	keep  bool
	cands []uint64
	// While flushing, full outboxes go to the coordinator at once.
	flushing bool
	stop     <-chan struct{}
	tel      *meterCounters // the Telemetry's, if any
}

func (sm *shardedMeter) export(r *features.Record) error {
	if sm.out.recs == nil {
		select {
		case box := <-sm.used:
			sm.out.recs = box.recs[:0]
		default:
		}
	}
	if n := len(sm.out.recs); n < cap(sm.out.recs) {
		sm.out.recs = sm.out.recs[:n+1]
		sm.out.recs[n].CopyFrom(r)
	} else {
		sm.out.recs = append(sm.out.recs, r.Clone())
	}
	if sm.flushing && len(sm.out.recs) == endChunk {
		return sm.send(false)
	}
	return nil
}

// send hands the outbox to the coordinator; errStop when it has stopped.
func (sm *shardedMeter) send(last bool) error {
	sm.out.last = last
	select {
	case sm.outs <- sm.out:
		sm.out = outbox{}
		return nil
	case <-sm.stop:
		return errStop
	}
}

// run meters the batches of the meter's queue, taking part in every round.
func (sm *shardedMeter) run() {
	stopped := false
	for b := range sm.q.full {
		if stopped {
			sm.q.recycle(b)
			continue
		}
		if b.n > 0 {
			if sm.keep {
				b.resolve()
			}
			sm.m.ProcessShardBatch(b.pkts[:b.n], b.times[:b.n], b.seqs[:b.n])
			if sm.tel != nil {
				sm.tel.metered.Add(uint64(b.n))
				sm.tel.active.Store(int64(sm.m.ActiveFlows()))
			}
		}
		if b.barrier || b.end || b.sync {
			stopped = sm.round(b) != nil
		}
		sm.q.recycle(b)
	}
}

// round takes part in a barrier, sync or end round: report idle
// candidates (or the end), expire what the coordinator says (or
// everything), and hand over the round's records.
func (sm *shardedMeter) round(b *batch) error {
	msg := roundMsg{end: b.end, sync: b.sync}
	if b.barrier {
		msg.cands, msg.bound = sm.m.IdleCandidates(b.tick, meter.ScanBudget, sm.cands[:0])
		sm.cands = msg.cands
	}
	select {
	case sm.rounds <- msg:
	case <-sm.stop:
		return errStop
	}
	if b.barrier {
		select {
		case through := <-sm.replies:
			if through != none {
				sm.m.ExpireIdle(b.event, b.tick, through)
			}
		case <-sm.stop:
			return errStop
		}
	}
	if b.end {
		sm.flushing = true
		err := sm.m.FlushAt(b.tick)
		if sm.tel != nil {
			sm.tel.active.Store(int64(sm.m.ActiveFlows()))
		}
		if err == errStop {
			return err
		}
		// Any other error is the meter's own (a plugin failed): the
		// coordinator still gets the last outbox, with the error.
		sm.out.err = err
	}
	return sm.send(true)
}

// reuse hands a written outbox back to the meter, unless it keeps enough.
func (sm *shardedMeter) reuse(box outbox) {
	if cap(box.recs) == 0 {
		return
	}
	select {
	case sm.used <- box:
	default:
	}
}

// none is the reply for a meter none of whose flows the scan expires.
const none = 1<<64 - 1

// meterSharded is meterAll for n > 1 meters: it returns after every flow
// was written (or writing stopped), with the first error.
func meterSharded(ctx context.Context, cfg *FileConfig, open func(string) (capture.Source, error), n int,
	write func(*features.Record) error, st *Stats) error {
	keep := cfg.Meter.Dissections > 0 || len(cfg.Meter.Plugins) > 0
	stop := make(chan struct{})
	meters := make([]*shardedMeter, n)
	sh := &sharder{qs: make([]*queue, n), cur: make([]*batch, n), keepBytes: keep}
	for k := range meters {
		sm := &shardedMeter{q: newQueue(inFlight), keep: keep, stop: stop,
			rounds: make(chan roundMsg), replies: make(chan uint64), outs: make(chan outbox), used: make(chan outbox, usedBoxes)}
		m, err := meter.New(cfg.Meter, sm.export)
		if err != nil {
			for _, prev := range meters[:k] {
				prev.m.Close()
			}
			return err
		}
		sm.m = m
		if cfg.Telemetry != nil {
			sm.tel = cfg.Telemetry.meter(k)
		}
		meters[k], sh.qs[k] = sm, sm.q
	}
	var wg sync.WaitGroup
	for _, sm := range meters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sm.run()
		}()
	}
	r := newReader(cfg, sh)
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.err = r.readAll(ctx, open)
		if r.err != errStop {
			sh.broadcast(func(b *batch) { b.end, b.tick = true, sh.tick })
		}
		for _, q := range sh.qs {
			close(q.full)
		}
	}()

	writeErr := coordinate(meters, write)
	close(stop)
	for _, q := range sh.qs {
		close(q.done)
	}
	wg.Wait()
	for _, sm := range meters {
		st.Processed += sm.m.Processed()
		sm.m.Close()
	}
	st.Packets, st.Ignored, st.Sources, st.Skipped = r.packets, r.ignored, r.opened, r.skipped
	st.PacketLimitReached = r.limited
	if writeErr != nil {
		return writeErr
	}
	if r.err == errStop {
		return nil
	}
	return r.err
}

// coordinate runs the rounds: at a barrier it picks the flows a single
// meter's idle scan would expire and tells each meter how far to go; after
// every round it merges the meters' records in single-meter order and
// writes them. It returns after the end round or the first write error.
func coordinate(meters []*shardedMeter, write func(*features.Record) error) error {
	msgs := make([]roundMsg, len(meters))
	for {
		for k, sm := range meters {
			msgs[k] = <-sm.rounds
		}
		end := msgs[0].end
		if !end && !msgs[0].sync {
			for k, through := range scanCutoffs(msgs) {
				meters[k].replies <- through
			}
		}
		if err := mergeWrite(meters, write); err != nil {
			return err
		}
		if end {
			return nil
		}
	}
}

// scanCutoffs returns, per meter, the creation index through which its
// flows expire in this scan (none for none): the flows before the first
// flow of any meter that is not idle, at most meter.ScanBudget of them, oldest
// first.
func scanCutoffs(msgs []roundMsg) []uint64 {
	bound := uint64(none)
	for _, m := range msgs {
		bound = min(bound, m.bound)
	}
	cut := make([]uint64, len(msgs))
	pos := make([]int, len(msgs))
	for k := range cut {
		cut[k] = none
	}
	for taken := 0; taken < meter.ScanBudget; taken++ {
		best := -1
		for k, m := range msgs {
			if pos[k] < len(m.cands) && m.cands[pos[k]] < bound && (best < 0 || m.cands[pos[k]] < msgs[best].cands[pos[best]]) {
				best = k
			}
		}
		if best < 0 {
			break
		}
		cut[best] = msgs[best].cands[pos[best]]
		pos[best]++
	}
	return cut
}

// mergeWrite writes the records of a round from all meters in
// single-meter order, reading each meter's outboxes as its records run out
// (each meter's records are already in that order).
func mergeWrite(meters []*shardedMeter, write func(*features.Record) error) error {
	boxes := make([]outbox, len(meters))
	pos := make([]int, len(meters))
	var failed error
	for k, sm := range meters {
		boxes[k] = <-sm.outs
		if failed == nil {
			failed = boxes[k].err
		}
	}
	defer func() {
		for k, box := range boxes {
			meters[k].reuse(box)
		}
	}()
	for {
		best := -1
		for k := range boxes {
			for pos[k] == len(boxes[k].recs) && !boxes[k].last {
				meters[k].reuse(boxes[k])
				boxes[k], pos[k] = <-meters[k].outs, 0
				if failed == nil {
					failed = boxes[k].err
				}
			}
			if pos[k] < len(boxes[k].recs) && (best < 0 || boxes[k].recs[pos[k]].Order.Less(boxes[best].recs[pos[best]].Order)) {
				best = k
			}
		}
		if best < 0 {
			return failed
		}
		if err := write(&boxes[best].recs[pos[best]]); err != nil {
			return err
		}
		pos[best]++
	}
}
