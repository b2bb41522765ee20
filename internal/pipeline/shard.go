package pipeline

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"

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
// and stops at the first one that is not idle, which may be in another
// meter. But a scan never changes what a flow contains: a flow it takes is
// idle, and would be expired (idle) by its next packet anyway, before that
// packet starts a new flow. Only when the flow is written depends on the
// other meters. So the meters never wait for a scan: the reader tells
// every meter where the scans fall (every 10 ms of packet time, as one
// meter would scan), and at each scan point a meter notes which of its
// flows became idle and which is its first flow that is not. Every
// roundEvery packets, a round: the coordinator replays the scans of the
// round from those notes, in order, as one meter over all flows would run
// them; it tells each meter which flows to expire at which scan, moves the
// records of flows a meter already expired at a later packet back to the
// scan that took them, and merges the records of the round in a single
// meter's order (features.Order). The rows, their order and their ids are
// therefore those of one meter, whatever the number of meters.

// shardOf maps NFStream's direction-symmetric packet hash to one of n
// meters, mixing it first so that sums of nearby addresses spread well.
// The mixed hash is scaled to [0, n) by a multiplication rather than a
// remainder: a division per packet was a fifth of the reader's sharding.
func shardOf(h uint32, n int) int {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return int(uint64(h) * uint64(n) >> 32)
}

// sharder is the reader's target on the sharded path.
type sharder struct {
	qs        []*queue
	cur       []*batch
	tmp       decode.Packet
	keepBytes bool
	scanClock
	seq uint64 // index of the next metered packet
	// sinceRound counts the packets sent since the last round; every is
	// how many make a round (roundEvery, or fewer with a flow limit).
	sinceRound, every int
	// held counts the records the meters exported at packets since the
	// last round, which wait for it (shared with the meters).
	held *atomic.Int64
}

// roundEvery is how many packets pass between two rounds. The meters wait
// for each other only at rounds, so rounds are rare; a round holds the
// records of its packets (about one per ten packets) until it is merged.
// A variable only so that tests can make rounds short.
var roundEvery = 1 << 14

// A round also comes early when roundRecords records wait for it (a flood
// of flows evicted at packets: one record per packet), checked every
// heldCheck packets, so the records waiting stay few; and every
// maxFlowsRound packets with a flow limit, so the run stops soon after it.
const (
	roundRecords  = 4096
	heldCheck     = 256
	maxFlowsRound = 256
)

func (s *sharder) slot() (*decode.Packet, bool) { return &s.tmp, true }

// scanClock is the capture's clock as one meter keeps it: the largest
// packet time so far, and when the idle scan last ran.
type scanClock struct{ tick, scanTick uint64 }

// step moves the clock to t if later and reports whether the idle scan is
// due (meter.ScanInterval after the last), noting that it runs.
func (c *scanClock) step(t uint64) bool {
	c.tick = max(c.tick, t)
	if c.tick-c.scanTick < meter.ScanInterval {
		return false
	}
	c.scanTick = c.tick
	return true
}

func (s *sharder) add(t uint64) bool {
	scan := s.step(t)
	k := shardOf(s.tmp.Hash, len(s.qs))
	b, ok := s.batchOf(k)
	if !ok {
		return false
	}
	if s.keepBytes && !b.fits(len(s.tmp.IPContent)) {
		if !s.send(k) {
			return false
		}
		if b, ok = s.batchOf(k); !ok {
			return false
		}
	}
	b.pkts[b.n], b.times[b.n], b.seqs[b.n] = s.tmp, s.tick, s.seq
	if s.keepBytes {
		b.keep(b.n)
	}
	b.n++
	event := s.seq
	s.seq++
	if b.n == batchSize && !s.send(k) {
		return false
	}
	if scan && !s.scanPoint(event) {
		return false
	}
	if s.sinceRound++; s.sinceRound >= s.every || (s.sinceRound%heldCheck == 0 && s.held.Load() >= roundRecords) {
		s.sinceRound = 0
		s.held.Store(0)
		return s.broadcast(func(b *batch) { b.round = true })
	}
	return true
}

// skip moves the clock for a packet of another shard (FileConfig.Shard):
// when the idle scan is due, it falls after the last packet metered, as
// it would at a packet.
func (s *sharder) skip(t uint64) bool {
	if !s.step(t) {
		return true
	}
	if s.seq == 0 {
		return true // no flow yet: nothing to scan
	}
	return s.scanPoint(s.seq - 1)
}

// scanPoint tells every meter that the idle scan follows packet event, at
// the current clock.
func (s *sharder) scanPoint(event uint64) bool {
	for k := range s.qs {
		b, ok := s.batchOf(k)
		if !ok {
			return false
		}
		b.points = append(b.points, meter.ScanPoint{Pos: b.n, Event: event, Tick: s.tick})
		if len(b.points) == batchSize && !s.send(k) {
			return false
		}
	}
	return true
}

// batchOf returns the batch being filled for meter k.
func (s *sharder) batchOf(k int) (*batch, bool) {
	if s.cur[k] == nil {
		b, ok := s.qs[k].get()
		if !ok {
			return nil, false
		}
		s.cur[k] = b
	}
	return s.cur[k], true
}

// send hands meter k its batch.
func (s *sharder) send(k int) bool {
	b := s.cur[k]
	s.cur[k] = nil
	return s.qs[k].send(b)
}

// broadcast marks every meter's pending batch (an empty one if none) and
// sends it: a meter acts on the marker after the batch's packets.
func (s *sharder) broadcast(mark func(*batch)) bool {
	for k := range s.qs {
		b, ok := s.batchOf(k)
		if !ok {
			return false
		}
		mark(b)
		if !s.send(k) {
			return false
		}
	}
	return true
}

func (s *sharder) flush() bool {
	for k, b := range s.cur {
		if b != nil && !s.send(k) {
			return false
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
	b.n, b.arena, b.points, b.round, b.end = 0, b.arena[:0], b.points[:0], false, false
	q.free <- b
}

// report is what a meter noted at the scan points of a round. The flows
// that became idle there it adds to its idleQueue, which the coordinator
// reads at the round.
type report struct {
	scans []scanNote
	end   bool // the last round: the meter flushes after it
}

// scanNote is a meter's note at one scan point: bound is the creation index
// of the meter's first flow that is not idle (none if every flow is).
type scanNote struct {
	event, tick, bound uint64
}

// scanCut tells a meter to expire its flows created at or before through,
// in the scan that follows packet event at clock tick.
type scanCut struct {
	event, tick, through uint64
}

// outbox holds copies of records a meter exported during a round. The
// first outbox of a round carries the meter's report; last marks its final
// outbox of the round.
type outbox struct {
	recs []features.Record
	rep  *report
	last bool
	// err, on the last outbox, is the meter's own failure (a plugin's):
	// the run ends with it once the other meters' flows are written.
	err error
}

// endChunk is how many records a meter hands over at a time while it
// expires the flows a round's scans took, and while it flushes at the end
// of the capture, so the merge streams instead of holding all those flows
// of every meter at once. Chunks of 512 rather than 1024 took 2 MB off the
// peak of two meters on the realistic capture (docs/design.md, "Memory")
// and ran as fast.
const endChunk = 512

// usedBoxes is how many written outboxes a meter keeps for reuse.
const usedBoxes = 3

// shardedMeter runs one meter of the sharded path. Its channels to the
// coordinator are its own, so each round's messages cannot mix with the
// next round's.
type shardedMeter struct {
	m    *meter.Meter
	outs chan outbox
	cuts chan []scanCut
	// used takes outboxes back from the coordinator once written, so their
	// records (and the records' sequences) serve again.
	used chan outbox
	q    *queue
	out  outbox
	keep bool
	// rep is the report of the current round; cur the batch being
	// metered, whose scan points onIdle notes.
	rep    report
	cur    *batch
	onIdle meter.IdleFunc
	// queue is the coordinator's queues[k]: the meter adds to it while it
	// meters, the coordinator reads and changes it while the meter waits
	// for its cuts.
	queue *idleQueue
	// While it expires what the coordinator says, and while it flushes,
	// full outboxes go to the coordinator at once.
	streaming bool
	stop      <-chan struct{}
	tel       *meterCounters // the Telemetry's, if any
	held      *atomic.Int64  // the sharder's
}

func (sm *shardedMeter) export(r *features.Record) error {
	if sm.out.recs == nil {
		select {
		case box := <-sm.used:
			sm.out.recs = box.recs[:0]
		default:
			// Room for a chunk at once: grown by append, a box would
			// leave several times its size behind.
			sm.out.recs = make([]features.Record, 0, endChunk)
		}
	}
	sm.out.recs = appendCopy(sm.out.recs, r)
	if sm.streaming && len(sm.out.recs) == endChunk {
		return sm.send(false)
	}
	return nil
}

// appendCopy appends a copy of r to recs, reusing the sequences and L7
// storage of the record that was in that place before recs was cut back
// (recs[:0]), so that a slice of records that serves again allocates
// nothing once its records have grown.
func appendCopy(recs []features.Record, r *features.Record) []features.Record {
	if n := len(recs); n < cap(recs) {
		recs = recs[:n+1]
		recs[n].CopyFrom(r)
		return recs
	}
	return append(recs, r.Clone())
}

// idle notes what the meter reported at scan point p of the current batch.
func (sm *shardedMeter) idle(p int, idle []uint64, done bool, bound uint64) {
	sm.queue.push(idle)
	if done {
		pt := &sm.cur.points[p]
		sm.rep.scans = append(sm.rep.scans, scanNote{event: pt.Event, tick: pt.Tick, bound: bound})
	}
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
		if b.n > 0 || len(b.points) > 0 {
			if sm.keep {
				b.resolve()
			}
			sm.cur = b
			held := len(sm.out.recs)
			// An error is a plugin's: the meter then does nothing more,
			// and its flush returns the error.
			sm.m.ProcessShardBatch(b.pkts[:b.n], b.times[:b.n], b.seqs[:b.n], b.points, sm.onIdle)
			sm.cur = nil
			// What the batch exported waits for the round: counted once
			// per batch, not per record, as the meters share the counter.
			if held = len(sm.out.recs) - held; held > 0 {
				sm.held.Add(int64(held))
			}
			if sm.tel != nil {
				sm.tel.metered.Add(uint64(b.n))
				sm.tel.active.Store(int64(sm.m.ActiveFlows()))
			}
		}
		if b.round || b.end {
			stopped = sm.round(b) != nil
		}
		sm.q.recycle(b)
	}
}

// round takes part in a round: hand over the report and the records so
// far, expire what the coordinator says, then (at the end) flush every
// flow, and hand over those records.
func (sm *shardedMeter) round(b *batch) error {
	sm.rep.end = b.end
	sm.out.rep = &sm.rep
	if err := sm.send(false); err != nil {
		return err
	}
	var cuts []scanCut
	select {
	case cuts = <-sm.cuts:
	case <-sm.stop:
		return errStop
	}
	// The coordinator is done with the report once it has sent the cuts.
	sm.rep.scans = sm.rep.scans[:0]
	sm.streaming = true
	for _, c := range cuts {
		// As in run, an error is a plugin's, returned by the flush; the
		// other, errStop, ends the round.
		if err := sm.m.ExpireIdle(c.event, c.tick, c.through); err == errStop {
			return err
		}
	}
	sm.streaming = b.end
	if b.end {
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
	box.rep = nil
	select {
	case sm.used <- box:
	default:
	}
}

// none is the bound of a meter all of whose flows are idle.
const none = 1<<64 - 1

// meterSharded is meterAll for n > 1 meters: it returns after every flow
// was written (or writing stopped), with the first error.
func meterSharded(ctx context.Context, cfg *FileConfig, open func(string) (capture.Source, error), n int,
	write func(*features.Record) error, st *Stats) error {
	keep := cfg.Meter.Dissections > 0 || len(cfg.Meter.Plugins) > 0
	stop := make(chan struct{})
	meters := make([]*shardedMeter, n)
	sh := &sharder{qs: make([]*queue, n), cur: make([]*batch, n), keepBytes: keep, every: roundEvery, held: new(atomic.Int64)}
	queues := make([]idleQueue, n)
	if cfg.MaxFlows > 0 {
		sh.every = min(roundEvery, maxFlowsRound)
	}
	for k := range meters {
		sm := &shardedMeter{q: newQueue(inFlight), keep: keep, stop: stop, held: sh.held, queue: &queues[k],
			cuts: make(chan []scanCut), outs: make(chan outbox), used: make(chan outbox, usedBoxes)}
		sm.onIdle = sm.idle
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

	writeErr := coordinate(meters, queues, write)
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

// coordinate runs the rounds: it replays the round's idle scans over all
// meters (coordinator.scan), tells each meter what to expire, then merges
// the meters' records in single-meter order and writes them. It returns
// after the last round or the first write error.
func coordinate(meters []*shardedMeter, queues []idleQueue, write func(*features.Record) error) error {
	c := &coordinator{
		meters: meters, write: write,
		queues: queues, cuts: make([][]scanCut, len(meters)),
		firsts: make([]outbox, len(meters)), heads: make([]cursor, 2*len(meters)),
	}
	for {
		for k, sm := range meters {
			c.firsts[k] = <-sm.outs
		}
		end := c.firsts[0].rep.end
		c.scan()
		for k, sm := range meters {
			sm.cuts <- c.cuts[k]
		}
		if err := c.merge(); err != nil {
			return err
		}
		if end {
			return nil
		}
	}
}

// coordinator holds what the rounds need from one round to the next.
type coordinator struct {
	meters []*shardedMeter
	write  func(*features.Record) error
	// queues[k] holds the creation indexes of meter k's flows reported
	// idle that no scan took yet, as far as the rounds so far tell, and
	// those meter k reported idle during this round.
	queues []idleQueue
	// cuts[k] is what meter k expires at the end of the round.
	cuts [][]scanCut
	// firsts[k] is meter k's first outbox of the round: its report, and
	// the records it exported at packets.
	firsts []outbox
	// order[k] lists firsts[k].recs by features.Order.
	order [][]int32
	heads []cursor
}

// scan replays the idle scans of the round: at each scan point, in order,
// it first applies what the meters did at packets up to the point (a flow
// reported idle that its next packet expired is no longer there), then
// takes, as one meter's scan would, the idle flows in creation order below
// the first flow of any meter that is not idle, at most meter.ScanBudget
// of them. The queues already hold the flows the meters reported idle at
// later scan points of the round; the bound leaves them out, as a meter
// reports its flows in creation order, none below its bound. A record a
// meter exported at a packet, for a flow that an earlier scan took, is
// moved back to that scan: the flow was idle, so the packet had the same
// flow to export as the scan, only later.
func (c *coordinator) scan() {
	scans := c.firsts[0].rep.scans
	pos := make([]int, len(c.meters))
	for k := range c.cuts {
		c.cuts[k] = c.cuts[k][:0]
	}
	for j := range scans {
		bound := uint64(none)
		for k := range c.meters {
			note := c.firsts[k].rep.scans[j]
			pos[k] = c.queues[k].apply(c.firsts[k].recs, pos[k], note.event, scans)
			bound = min(bound, note.bound)
		}
		for taken := 0; taken < meter.ScanBudget; taken++ {
			best, oldest := -1, uint64(none)
			for k := range c.queues {
				if x, ok := c.queues[k].first(); ok && x < bound && x < oldest {
					best, oldest = k, x
				}
			}
			if best < 0 {
				break
			}
			c.queues[best].take(j)
			cuts := c.cuts[best]
			if n := len(cuts); n > 0 && cuts[n-1].event == scans[j].event && cuts[n-1].tick == scans[j].tick {
				cuts[n-1].through = oldest
			} else {
				c.cuts[best] = append(cuts, scanCut{event: scans[j].event, tick: scans[j].tick, through: oldest})
			}
		}
	}
	for k := range c.meters {
		c.queues[k].apply(c.firsts[k].recs, pos[k], none, scans)
		c.queues[k].compact()
	}
}

// merge writes the records of the round in single-meter order: from each
// meter, those of its first outbox (sorted: scan moved some back) and
// those of its later outboxes (the flows the round's scans took, then at
// the end every flow left), read as they come.
func (c *coordinator) merge() error {
	n := len(c.meters)
	if len(c.order) < n {
		c.order = make([][]int32, n)
	}
	var failed error
	for k, sm := range c.meters {
		recs := c.firsts[k].recs
		order := c.order[k][:0]
		for i := range recs {
			order = append(order, int32(i))
		}
		if !slices.IsSortedFunc(order, func(a, b int32) int { return compareOrder(recs[a].Order, recs[b].Order) }) {
			slices.SortFunc(order, func(a, b int32) int { return compareOrder(recs[a].Order, recs[b].Order) })
		}
		c.order[k] = order
		c.heads[2*k] = cursor{recs: recs, order: order}
		c.heads[2*k+1] = cursor{sm: sm, box: outbox{}}
		if err := c.heads[2*k+1].next(); failed == nil {
			failed = err
		}
	}
	defer func() {
		for k, sm := range c.meters {
			sm.reuse(c.firsts[k])
			c.heads[2*k+1].close()
		}
	}()
	for {
		best := -1
		var top *features.Record
		for h := range c.heads {
			if r := c.heads[h].peek(); r != nil && (top == nil || r.Order.Less(top.Order)) {
				best, top = h, r
			}
		}
		if best < 0 {
			return failed
		}
		if err := c.write(top); err != nil {
			return err
		}
		if err := c.heads[best].advance(); failed == nil {
			failed = err
		}
	}
}

// compareOrder compares two places in a single meter's output as cmp does.
func compareOrder(a, b features.Order) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}

// cursor reads records in order either from a slice (order gives the
// order) or from a meter's outboxes until its last of the round.
type cursor struct {
	recs  []features.Record
	order []int32
	pos   int
	sm    *shardedMeter
	box   outbox
}

// next receives the meter's next outbox, returning its error if any.
func (c *cursor) next() error {
	if c.box.recs != nil {
		c.sm.reuse(c.box)
	}
	c.box, c.pos = <-c.sm.outs, 0
	c.recs = c.box.recs
	return c.box.err
}

// peek returns the cursor's next record, nil when there is none.
func (c *cursor) peek() *features.Record {
	if c.sm != nil {
		if c.pos < len(c.recs) {
			return &c.recs[c.pos]
		}
		return nil
	}
	if c.pos < len(c.order) {
		return &c.recs[c.order[c.pos]]
	}
	return nil
}

// advance moves past the record peek returned; a meter's cursor receives
// the next outbox when the records run out, returning its error if any.
func (c *cursor) advance() error {
	c.pos++
	var err error
	for c.sm != nil && c.pos == len(c.recs) && !c.box.last {
		if e := c.next(); err == nil {
			err = e
		}
	}
	return err
}

// close hands a meter cursor's last outbox back.
func (c *cursor) close() {
	if c.sm != nil {
		c.sm.reuse(c.box)
		c.box = outbox{}
	}
}

// idleQueue is one meter's flows reported idle, in creation order, with
// what became of each in the scans replayed so far. Its memory is kept
// from round to round and never shrinks: at 8 bytes a flow it stays a
// small part of what the meter's own flow slots hold, and a queue that
// shrank and grew again would make garbage. On a large capture the flow
// slots are most of the heap and the collector runs rarely, so garbage
// made late in a run is never collected and adds to the peak.
type idleQueue struct {
	// q holds the flows' creation indexes, with goneBit set once a flow
	// left the queue at a packet of its own (or its record moved back to
	// the scan that took it).
	q []uint64
	// The entries before head no longer wait: a scan took them, unless
	// they are gone; takes says which scan, run by run.
	head  int
	takes []taken
	done  int // entries no longer waiting
}

// taken says that the queue's entries before end (and after the previous
// run's), unless gone, were taken by the round's scan number scan.
type taken struct{ end, scan int }

const goneBit = 1 << 63

// push adds flows that became idle; they are younger than those queued.
func (q *idleQueue) push(created []uint64) {
	if n := len(q.q) + len(created); n > cap(q.q) {
		// Doubling, where append grows a large slice by a quarter: that
		// would leave four times the queue's final size as garbage.
		q.q = slices.Grow(q.q, max(n, 2*cap(q.q))-len(q.q))
	}
	q.q = append(q.q, created...)
}

// first returns the oldest waiting flow.
func (q *idleQueue) first() (uint64, bool) {
	for q.head < len(q.q) && q.q[q.head]&goneBit != 0 {
		q.head++
	}
	if q.head == len(q.q) {
		return 0, false
	}
	return q.q[q.head], true
}

// take marks the oldest waiting flow (first) as taken by scan j.
func (q *idleQueue) take(j int) {
	q.head++
	if n := len(q.takes); n > 0 && q.takes[n-1].scan == j {
		q.takes[n-1].end = q.head
	} else {
		q.takes = append(q.takes, taken{end: q.head, scan: j})
	}
	q.done++
}

// takenBy returns the scan that took the entry at k (before head, not
// gone).
func (q *idleQueue) takenBy(k int) int {
	i, _ := slices.BinarySearchFunc(q.takes, k, func(t taken, k int) int { return cmp.Compare(t.end, k+1) })
	return q.takes[i].scan
}

// apply goes through the records recs[i:] exported at packets up to event
// upto and returns where it stopped. A record of a waiting flow marks it
// gone; a record of a flow a scan took moves to that scan.
func (q *idleQueue) apply(recs []features.Record, i int, upto uint64, scans []scanNote) int {
	for ; i < len(recs) && recs[i].Order.Event <= upto; i++ {
		r := &recs[i]
		k, ok := slices.BinarySearchFunc(q.q, r.Order.Created, func(e, x uint64) int { return cmp.Compare(e&^goneBit, x) })
		if !ok || q.q[k]&goneBit != 0 {
			continue
		}
		if k >= q.head {
			q.done++ // it was waiting
		} else {
			sc := &scans[q.takenBy(k)]
			r.Order = features.Order{Event: sc.event, Created: r.Order.Created, Phase: features.PhaseScan}
			r.ExpiredMS = sc.tick
			// A meter evicts its oldest flow when full; the scan took it
			// first, as a single meter's scan would have.
			r.ExpirationID = features.ExpiredIdle
		}
		q.q[k] |= goneBit
	}
	return i
}

// compact drops the entries that no longer wait: the meters expire at the
// end of each round the flows its scans took.
func (q *idleQueue) compact() {
	if q.done > 0 {
		w := 0
		for _, x := range q.q[q.head:] {
			if x&goneBit == 0 {
				q.q[w] = x
				w++
			}
		}
		q.q = q.q[:w]
	}
	q.head, q.done, q.takes = 0, 0, q.takes[:0]
}
