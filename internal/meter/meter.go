package meter

import (
	"fmt"
	"unsafe"

	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/dpi"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/plugin"
)

// ScanInterval is how much packet time (ms) passes between idle scans, and
// ScanBudget how many flows one scan may expire at most (NFStream's
// values). A caller running the scans of several meters uses them too.
const (
	ScanInterval = 10
	ScanBudget   = 1000
)

// Config configures a Meter.
type Config struct {
	Features features.Config
	// IdleTimeout and ActiveTimeout are in milliseconds.
	IdleTimeout   uint64
	ActiveTimeout uint64
	// Dissections is NFStream's n_dissections: how many packets of a flow
	// nDPI may see (0 disables dissection; at most 255).
	Dissections int
	// LRU makes the idle scan walk flows from the least recently seen
	// instead of in creation order: the better rule for live capture, where
	// output order is not reproducible anyway (docs/compatibility.md item 2). A busy
	// old flow then no longer delays the export of idle younger ones.
	LRU bool
	// MaxActive bounds the flows in the table (0: no bound). When it is
	// reached and a packet needs a new flow, the oldest flow (the head of
	// the list: first created, or least recently seen with LRU) is first
	// exported with features.ExpiredEvicted, at the packet's event, so
	// memory stays bounded and no flow is lost (see budget.go).
	MaxActive int
	// Plugins are NFStream's NFPlugins, run in order on every flow; the
	// meter makes its own instances with the factories. PluginColumns are
	// the run's columns, which the plugins read flows by (see
	// plugin.Flow). Without plugins the packet path only checks that
	// there are none.
	Plugins       []plugin.Factory
	PluginColumns []features.Column
	// OnNewFlow, if set, is called when a packet creates a flow, with the
	// flow after its first packet (live system visibility looks its socket
	// up then: sysvis.Attributor.Notice). It must not keep f.
	OnNewFlow func(f *features.Flow)
}

// ExportFunc receives each expired flow. The record is valid only during the
// call. A non-nil error stops the meter and is returned by the method that
// was running.
type ExportFunc func(r *features.Record) error

// slot is one entry of the flow table, linked in creation order (in
// least-recently-seen order with Config.LRU). In a page, each slot is
// followed by the flow's Config.Features.SPLT entries, and the pair is
// padded to a multiple of 64 bytes, so every flow starts on a cache line
// (see features.Flow) and its SPLT entries sit beside it.
type slot struct {
	flow       features.Flow
	created    uint64 // index of the flow's first packet
	hash       uint32
	prev, next int32
}

// slotStride is the distance between slots in a page with n SPLT entries
// per flow.
func slotStride(n int) uintptr {
	size := unsafe.Sizeof(slot{}) + uintptr(n)*unsafe.Sizeof(features.SPLTEntry{})
	return (size + 63) &^ 63
}

// noSlot marks the absence of a slot: an empty list end, a link, or a
// lookup that found nothing.
const noSlot int32 = -1

// notExpired is the reason of a flow that does not expire; it differs from
// every expiration id (features.ExpiredCustom is -1).
const notExpired int8 = -128

const (
	pageBits = 12
	pageSize = 1 << pageBits
)

// page holds pageSize flow slots with their SPLT entries (their nDPI
// state and L7 values are the dissector's). The slots' memory holds no
// pointers, so the garbage collector does not scan it.
type page struct {
	mem  []byte           // pageSize slots of slotStride bytes
	udps []*features.UDPS // with plugins: each flow's udps values
}

func (m *Meter) slot(i int32) *slot {
	mem := m.pages[i>>pageBits].mem
	off := uintptr(i&(pageSize-1)) * m.stride
	_ = mem[off+m.stride-1]
	return (*slot)(unsafe.Pointer(&mem[off]))
}

// splt returns the SPLT entries of slot i (empty without SPLT).
func (m *Meter) splt(i int32) []features.SPLTEntry {
	p := unsafe.Add(unsafe.Pointer(m.slot(i)), unsafe.Sizeof(slot{}))
	return unsafe.Slice((*features.SPLTEntry)(p), m.cfg.Features.SPLT)
}

// Meter meters packets into flows. It is not safe for concurrent use.
type Meter struct {
	cfg    Config
	export ExportFunc
	// ds holds the flows' nDPI state (nil without dissection). The meter
	// calls it as it meters or, once split (SplitDissection), only notes
	// in ops what it leaves to ds on another goroutine.
	ds    *Dissector
	split bool
	ops   []Op

	table table
	// slots holds the flows in pages of pageSize, so growing never moves a
	// flow and never copies the table's memory.
	pages  []page
	stride uintptr // bytes per slot in a page (slotStride)
	nslot  int32
	// free is the last slot freed (noSlot: none); each free slot's next
	// is the one freed before it. Kept in the slots themselves, the free
	// list costs no memory of its own however many flows leave at once.
	free int32
	// head and tail of the list of flows: oldest first (creation order, or
	// least recently seen with Config.LRU).
	head, tail int32
	// front is the first flow ProcessShardBatch has not yet reported idle
	// (noSlot: every flow was): the flows before it are idle, and stay
	// so until their next packet, which expires them.
	front int32

	// maxActive is Config.MaxActive, or the largest int for no bound, so
	// the check at flow creation is one compare.
	maxActive int

	tick, scanTick uint64
	processed      uint64
	// seq is the index of the packet being metered (the event of exports).
	seq uint64
	// hashes, slots and addrs are batch's working space.
	hashes []uint32
	slots  []int32
	addrs  [3 * group]uintptr
	// rec is the record an expiring flow is exported in.
	rec features.Record
	// The scan points of the batch ProcessShardBatch meters, the next one
	// to report, and where; idle is reportIdle's working space.
	points    []ScanPoint
	nextPoint int
	onIdle    IdleFunc
	idle      []uint64

	// With plugins: the instances, their names, the views hooks get, and
	// the first plugin error, after which the meter does nothing more.
	plugins []plugin.Plugin
	pnames  []string
	view    *plugin.View
	pkt     plugin.Packet
	failed  error
}

// New returns a Meter that hands expired flows to export; cfg must be
// valid (Validate).
// With dissection on it creates the meter's own nDPI detection module, and
// fails when nDPI is unavailable. Release the meter with Close.
func New(cfg Config, export ExportFunc) (*Meter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Meter{cfg: cfg, export: export, table: newTable(), head: noSlot, tail: noSlot, front: noSlot, free: noSlot, stride: slotStride(cfg.Features.SPLT)}
	m.maxActive = cfg.MaxActive
	if m.maxActive <= 0 {
		m.maxActive = int(^uint(0) >> 1)
	}
	if n := cfg.Features.SPLT; n > 0 {
		m.rec.SPLTDirection, m.rec.SPLTPS, m.rec.SPLTPIAT = make([]int8, n), make([]int32, n), make([]int64, n)
	}
	if cfg.Dissections > 0 {
		e, err := dpi.New()
		if err != nil {
			return nil, err
		}
		m.ds = &Dissector{dpi: e, budget: uint64(cfg.Dissections)}
	}
	if len(cfg.Plugins) > 0 {
		m.view = plugin.NewView(cfg.Features, cfg.PluginColumns)
		for _, f := range cfg.Plugins {
			p, err := f.New()
			if err != nil {
				m.Close()
				return nil, fmt.Errorf("plugin %s: %w", f.Name, err)
			}
			m.plugins = append(m.plugins, p)
			m.pnames = append(m.pnames, f.Name)
		}
	}
	return m, nil
}

// Close releases the nDPI state of the flows still open and the
// detection module. Call it after Flush, and with the dissection split
// off once its Dissector is done.
func (m *Meter) Close() {
	if m.ds != nil {
		m.ds.release()
		m.ds = nil
	}
}

// SplitDissection hands the meter's dissection to the returned Dissector,
// to run on another goroutine (docs/design.md, "Dissection beside the
// meter"): from then on the meter notes each step as an Op (TakeOps), and
// export, which replaces the meter's, gets each record without its L7
// values, which Dissector.Run sets. An Op holds its packet's bytes, which
// the caller keeps until Run has taken it. Call SplitDissection before the
// first packet; it returns nil without dissection, or with plugins, whose
// hooks see nDPI's values as the packets come. Close the meter once Run
// is done.
func (m *Meter) SplitDissection(export ExportFunc) *Dissector {
	if m.ds == nil || m.plugins != nil || m.processed > 0 || m.split {
		return nil
	}
	m.split, m.export = true, export
	return m.ds
}

// TakeOps returns the Ops noted since the last call, and notes the next
// ones in buf (whose contents are dropped).
func (m *Meter) TakeOps(buf []Op) []Op {
	ops := m.ops
	m.ops = buf[:0]
	return ops
}

// dissectFirst dissects, or notes for the Dissector, the first packet of
// the flow in slot i.
func (m *Meter) dissectFirst(i int32, p *decode.Packet, t uint64) {
	if m.split {
		m.ops = append(m.ops, Op{Kind: OpFirst, Slot: i, Time: t, IP: p.IPContent})
		return
	}
	m.ds.first(i, p.IPContent, t)
}

// dissectNext dissects, or notes, a later packet of the flow in slot i,
// which has packets packets with it.
func (m *Meter) dissectNext(i int32, p *decode.Packet, t, packets uint64) {
	if m.split {
		m.ops = append(m.ops, Op{Kind: OpNext, Slot: i, Packets: packets, Time: t, IP: p.IPContent})
		return
	}
	m.ds.next(i, p.IPContent, t, packets)
}

// ActiveFlows returns the number of flows in the table.
func (m *Meter) ActiveFlows() int { return m.table.n }

// Processed returns the number of packets metered.
func (m *Meter) Processed() uint64 { return m.processed }

// moveClock moves the meter's clock to t if later, and returns the packet's
// time clamped to the clock.
func (m *Meter) moveClock(t uint64) uint64 {
	if t > m.tick {
		m.tick = t
	}
	return m.tick
}

// Process meters one decoded packet captured at t (ms).
func (m *Meter) Process(p *decode.Packet, t uint64) error {
	return m.process(p, t, m.table.hashPacket(p))
}

// ProcessBatch meters packets in order, pkts[i] captured at times[i]; it
// gives the same result as calling Process for each, faster: see batch.
func (m *Meter) ProcessBatch(pkts []decode.Packet, times []uint64) error {
	return m.batch(pkts, times, nil)
}

// ScanPoint is where the idle scan of a capture shared by several meters
// runs: after the first Pos packets of a batch, with the capture's clock
// at Tick. Event is the index of the packet the scan follows, for the
// caller (docs/design.md, "Several meters").
type ScanPoint struct {
	Pos         int
	Event, Tick uint64
}

// IdleFunc receives, at scan point p of a batch, the creation indexes of
// the flows that became idle since the previous report, oldest first
// (valid only during the call), in one call or several of at most
// idleChunk flows; the last has done set and bound, the creation index of
// the meter's first flow that is not idle (the largest uint64 if none
// is).
type IdleFunc func(p int, idle []uint64, done bool, bound uint64)

// idleChunk is the most flows an IdleFunc call reports. When the flow
// that held the front back leaves, hundreds of thousands of flows behind
// it turn out idle at one point; reported at once, their list would stay
// allocated at that size.
const idleChunk = 4096

// ProcessShardBatch meters packets without running idle scans, for a
// meter that is one of several sharing a capture: pkts[i] is the packet
// with index seqs[i] among all metered packets, at times[i] (ms, already
// clamped so time never goes backwards across the whole capture). At each
// of points (in order) it reports to onIdle what the caller needs to run
// the idle scan across all meters; the caller expires the flows the scan
// takes later, with ExpireIdle. A flow reported idle stays in the table
// until then or until its next packet, which expires it (idle) at once.
func (m *Meter) ProcessShardBatch(pkts []decode.Packet, times, seqs []uint64, points []ScanPoint, onIdle IdleFunc) error {
	m.points, m.onIdle, m.nextPoint = points, onIdle, 0
	m.reportIdle(0)
	err := m.batch(pkts, times, seqs)
	m.reportIdle(int(^uint(0) >> 1)) // the rest: after an error, or Pos past the batch
	m.points, m.onIdle = nil, nil
	return err
}

// reportIdle reports the batch's scan points not yet reported that fall
// after at most pos of its packets (ScanPoint.Pos).
func (m *Meter) reportIdle(pos int) {
	for ; m.nextPoint < len(m.points) && m.points[m.nextPoint].Pos <= pos; m.nextPoint++ {
		m.reportPoint(m.nextPoint)
	}
}

// reportPoint moves the front past the flows idle at scan point p and
// reports them.
func (m *Meter) reportPoint(p int) {
	tick := m.points[p].Tick
	if m.idle == nil {
		m.idle = make([]uint64, 0, idleChunk)
	}
	idle := m.idle[:0]
	for m.front != noSlot {
		s := m.slot(m.front)
		if last := s.flow.LastSeenMS; tick < last || tick-last < m.cfg.IdleTimeout {
			break
		}
		if len(idle) == idleChunk {
			m.onIdle(p, idle, false, 0)
			idle = idle[:0]
		}
		idle = append(idle, s.created)
		m.front = s.next
	}
	bound := uint64(1<<64 - 1)
	if m.front != noSlot {
		bound = m.slot(m.front).created
	}
	m.onIdle(p, idle, true, bound)
}

// group is how many packets each stage of batch handles at a time. Groups
// of 2 ran the large-capture benchmark fastest here (7.2-7.6M packets/s
// against 5.4-5.6M for 1, 6.3-7.8M for 4, 5.2-5.8M for 16): far enough
// ahead for memory to answer, near enough that the lines are still in
// L1 when used.
const group = 2

// batch meters pkts as ProcessBatch (seqs nil) or ProcessShardBatch does. With
// hundreds of thousands of flows nearly every packet's flow is out of
// cache, so while it meters one group of packets it prefetches for the
// next three, one step each: the table entries of the group three ahead,
// the key and bidirectional lines of the flows of the group two ahead
// (their entries arrived meanwhile), and the direction block and SPLT
// entry of the group one ahead (which need the key and packet count). The
// loads then overlap each other and the metering. Prefetching is only a
// hint: every packet still looks its flow up itself.
func (m *Meter) batch(pkts []decode.Packet, times, seqs []uint64) error {
	n := len(pkts)
	if cap(m.hashes) < n {
		m.hashes, m.slots = make([]uint32, n), make([]int32, n)
	}
	hashes, slots := m.hashes[:n], m.slots[:n]
	for i := range pkts {
		hashes[i] = m.table.hashPacket(&pkts[i])
	}
	groups := (n + group - 1) / group
	for g := -3; g < groups; g++ {
		if a := g + 3; a < groups {
			m.prefetchEntries(hashes[a*group : min(n, (a+1)*group)])
		}
		if b := g + 2; b >= 0 && b < groups {
			lo, hi := b*group, min(n, (b+1)*group)
			m.prefetchFlows(hashes[lo:hi], slots[lo:hi])
		}
		if c := g + 1; c >= 0 && c < groups {
			lo, hi := c*group, min(n, (c+1)*group)
			m.prefetchDirections(pkts[lo:hi], slots[lo:hi])
		}
		if g < 0 {
			continue
		}
		for i := g * group; i < min(n, (g+1)*group); i++ {
			var err error
			if seqs == nil {
				err = m.process(&pkts[i], times[i], hashes[i])
			} else {
				m.moveClock(times[i])
				m.processed++
				m.seq = seqs[i]
				err = m.consume(&pkts[i], times[i], hashes[i])
				if m.nextPoint < len(m.points) {
					m.reportIdle(i + 1)
				}
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// prefetchEntries prefetches the table entries of the hashes.
func (m *Meter) prefetchEntries(hashes []uint32) {
	addrs := m.addrs[:0]
	for _, h := range hashes {
		addrs = append(addrs, uintptr(unsafe.Pointer(&m.table.entries[uint64(h)&m.table.mask])))
	}
	prefetch(addrs)
}

// prefetchFlows finds the likely slot of each hash (noSlot without one) and
// prefetches the key and bidirectional lines of those flows.
func (m *Meter) prefetchFlows(hashes []uint32, slots []int32) {
	addrs := m.addrs[:0]
	for i, h := range hashes {
		slots[i] = m.table.lookup(h)
		if slots[i] != noSlot {
			f := uintptr(unsafe.Pointer(&m.slot(slots[i]).flow))
			addrs = append(addrs, f, f+64)
		}
	}
	prefetch(addrs)
}

// prefetchDirections prefetches, for each packet with a likely slot, the
// lines of its direction and its SPLT entry if it gets one.
func (m *Meter) prefetchDirections(pkts []decode.Packet, slots []int32) {
	addrs := m.addrs[:0]
	for i, s := range slots {
		if s == noSlot {
			continue
		}
		f := &m.slot(s).flow
		d := uintptr(unsafe.Pointer(f)) + 128*(1+uintptr(f.Direction(&pkts[i])))
		addrs = append(addrs, d, d+64)
		if splt := m.splt(s); f.Packets < uint64(len(splt)) {
			addrs = append(addrs, uintptr(unsafe.Pointer(&splt[f.Packets])))
		}
	}
	prefetch(addrs)
}

// ExpireIdle expires, in creation order, the flows created at or before
// index through, as the idle scan that follows packet event when the
// capture's clock is at tick. Those flows were reported idle at that scan
// point (ProcessShardBatch); the meter may have metered later packets
// since, so its records carry the scan's time, not the meter's clock.
func (m *Meter) ExpireIdle(event, tick, through uint64) error {
	now := m.tick
	m.tick = tick
	defer func() { m.tick = max(now, tick) }()
	for m.head != noSlot && m.slot(m.head).created <= through {
		m.seq = event
		if err := m.expire(m.head, features.ExpiredIdle, features.PhaseScan); err != nil {
			return err
		}
	}
	return nil
}

func (m *Meter) process(p *decode.Packet, t uint64, h uint32) error {
	t = m.moveClock(t)
	m.seq = m.processed
	m.processed++
	scan := m.tick-m.scanTick >= ScanInterval
	if scan {
		m.scanTick = m.tick
	}
	if err := m.consume(p, t, h); err != nil {
		return err
	}
	if scan {
		return m.idleScan()
	}
	return nil
}

func (m *Meter) consume(p *decode.Packet, t uint64, h uint32) error {
	i, pos, ok := m.table.find(m, p, h)
	if ok {
		f := &m.slot(i).flow
		reason := notExpired
		switch {
		case t-f.LastSeenMS >= m.cfg.IdleTimeout:
			reason = features.ExpiredIdle
		case t-f.FirstSeenMS >= m.cfg.ActiveTimeout:
			reason = features.ExpiredActive
		}
		if reason == notExpired {
			if m.cfg.LRU {
				m.touchLRU(i)
			}
			if m.plugins != nil {
				return m.updateWithPlugins(i, f, p, t)
			}
			m.cfg.Features.Update(f, m.splt(i), p, t)
			if m.ds != nil {
				m.dissectNext(i, p, t, f.Packets)
			}
			return nil
		}
		if err := m.expire(i, reason, features.PhasePacket); err != nil {
			return err
		}
		_, pos, _ = m.table.find(m, p, h)
	}
	if m.table.n >= m.maxActive {
		if err := m.evict(); err != nil {
			return err
		}
		// Removal may have moved entries of the packet's probe run.
		_, pos, _ = m.table.find(m, p, h)
	}
	i = m.alloc()
	s := m.slot(i)
	m.cfg.Features.Init(&s.flow, m.splt(i), p, t)
	if m.ds != nil {
		m.dissectFirst(i, p, t)
	}
	s.hash = h
	s.created = m.seq
	m.table.insert(pos, h, i)
	if m.cfg.OnNewFlow != nil {
		m.cfg.OnNewFlow(&s.flow)
	}
	if m.plugins != nil {
		return m.initPlugins(i, p, t)
	}
	return nil
}

// evict exports the oldest flow early to make room for a new one. It runs
// at the packet's event before the new flow exists; a flow of the packet
// that timed out was already removed, so the table is then not full and at
// most one flow leaves at an event in phase PhasePacket: the records of a
// meter stay in features.Order.
func (m *Meter) evict() error {
	return m.expire(m.head, features.ExpiredEvicted, features.PhasePacket)
}

// alloc takes a free slot and appends it to the creation-order list.
func (m *Meter) alloc() int32 {
	var i int32
	if m.free != noSlot {
		i = m.free
		m.free = m.slot(i).next
	} else {
		i = m.nslot
		m.nslot++
		if int(i>>pageBits) == len(m.pages) {
			m.newPage()
		}
	}
	s := m.slot(i)
	s.prev, s.next = m.tail, noSlot
	if m.tail != noSlot {
		m.slot(m.tail).next = i
	} else {
		m.head = i
	}
	m.tail = i
	if m.front == noSlot {
		m.front = i
	}
	return i
}

// newPage adds a page of slots.
func (m *Meter) newPage() {
	// Slots start on cache lines: the memory is cut at a 64-byte boundary.
	size := pageSize * int(m.stride)
	mem := make([]byte, size+63)
	off := int(-uintptr(unsafe.Pointer(&mem[0])) & 63)
	pg := page{mem: mem[off : off+size : off+size]}
	if m.plugins != nil {
		pg.udps = make([]*features.UDPS, pageSize)
	}
	m.pages = append(m.pages, pg)
}

// expire exports the flow in slot i with the given reason and frees it.
func (m *Meter) expire(i int32, reason int8, phase uint8) error {
	err := m.exportSlot(i, reason, phase)
	m.release(i)
	return err
}

// exportSlot hands the flow in slot i to the export function.
func (m *Meter) exportSlot(i int32, reason int8, phase uint8) error {
	s := m.slot(i)
	r := &m.rec
	m.cfg.Features.Export(&s.flow, m.splt(i), r)
	r.ExpirationID = reason
	r.Order = features.Order{Event: m.seq, Created: s.created, Phase: phase}
	r.ExpiredMS = m.tick
	r.L7 = nil
	switch {
	case m.split:
		m.ops = append(m.ops, Op{Kind: OpExpire, Slot: i})
	case m.ds != nil:
		r.L7 = m.ds.expired(i)
	}
	if m.plugins != nil {
		if err := m.expirePlugins(i, r); err != nil {
			return err
		}
	}
	return m.export(r)
}

// release frees slot i: out of the table and the list.
func (m *Meter) release(i int32) {
	m.table.remove(m.slot(i).hash, i)
	m.unlink(i)
	m.slot(i).next, m.free = m.free, i
}

// touchLRU moves slot i to the tail of the list (most recently seen).
func (m *Meter) touchLRU(i int32) {
	if i == m.tail {
		return
	}
	m.unlink(i)
	s := m.slot(i)
	s.prev, s.next = m.tail, noSlot
	m.slot(m.tail).next = i
	m.tail = i
}

// unlink takes slot i out of the list.
func (m *Meter) unlink(i int32) {
	s := m.slot(i)
	if i == m.front {
		m.front = s.next
	}
	if s.prev != noSlot {
		m.slot(s.prev).next = s.next
	} else {
		m.head = s.next
	}
	if s.next != noSlot {
		m.slot(s.next).prev = s.prev
	} else {
		m.tail = s.prev
	}
}

// Advance moves the meter's clock to now (ms) when no packet came for a
// while, running the idle scan when it is due, so that a quiet link still
// exports its flows (live capture: packet times are wall-clock times).
func (m *Meter) Advance(now uint64) error {
	m.moveClock(now)
	if m.tick-m.scanTick >= ScanInterval {
		m.scanTick = m.tick
		m.seq = m.processed
		return m.idleScan()
	}
	return nil
}

// idleScan expires idle flows from the oldest, stopping at the first flow
// that is not idle or after ScanBudget flows.
func (m *Meter) idleScan() error {
	for n := 0; n < ScanBudget && m.head != noSlot; n++ {
		last := m.slot(m.head).flow.LastSeenMS
		if m.tick < last || m.tick-last < m.cfg.IdleTimeout {
			return nil
		}
		if err := m.expire(m.head, features.ExpiredIdle, features.PhaseScan); err != nil {
			return err
		}
	}
	return nil
}

// Flush expires every remaining flow in creation order (end of capture).
func (m *Meter) Flush() error {
	return m.FlushAt(0)
}

// FlushAt is Flush with the meter's clock first advanced to tick (the
// capture's last packet time, for a meter that is one of several).
func (m *Meter) FlushAt(tick uint64) error {
	m.moveClock(tick)
	if m.failed != nil {
		return m.failed
	}
	m.seq = 1<<64 - 1
	// Every flow goes, so the table is emptied at once at the end rather
	// than entry by entry (a cache miss each on a large table).
	for i := m.head; i != noSlot; i = m.slot(i).next {
		if err := m.exportSlot(i, features.ExpiredIdle, features.PhaseEnd); err != nil {
			for m.head != i {
				m.release(m.head)
			}
			m.release(i)
			return err
		}
	}
	m.table.clear()
	m.head, m.tail, m.front = noSlot, noSlot, noSlot
	m.nslot, m.free = 0, noSlot
	return nil
}
