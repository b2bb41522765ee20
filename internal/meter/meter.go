package meter

import (
	"bytes"

	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
)

// scanInterval is how much packet time passes between idle scans, and
// scanBudget how many flows one scan may expire at most (NFStream's values).
const (
	scanInterval = 10 // ms
	scanBudget   = 1000
)

// Config configures a Meter.
type Config struct {
	Features features.Config
	// IdleTimeout and ActiveTimeout are in milliseconds.
	IdleTimeout   uint64
	ActiveTimeout uint64
}

// ExportFunc receives each expired flow. The record is valid only during the
// call. A non-nil error stops the meter and is returned by the method that
// was running.
type ExportFunc func(r *features.Record) error

// key identifies a flow whichever way its packets travel: endpoint a is the
// smaller of the two (address, then port).
type key struct {
	a, b    [16]byte
	pa, pb  uint16
	vlan    uint16
	proto   uint8
	version uint8
	tunnel  uint8
	_       [1]byte
}

func makeKey(p *decode.Packet) key {
	k := key{vlan: p.VlanID, proto: p.Protocol, version: p.IPVersion, tunnel: p.TunnelID}
	c := bytes.Compare(p.SrcIP[:], p.DstIP[:])
	if c < 0 || (c == 0 && p.SrcPort <= p.DstPort) {
		k.a, k.pa, k.b, k.pb = p.SrcIP, p.SrcPort, p.DstIP, p.DstPort
	} else {
		k.a, k.pa, k.b, k.pb = p.DstIP, p.DstPort, p.SrcIP, p.SrcPort
	}
	return k
}

// slot is one entry of the flow table, linked in creation order.
type slot struct {
	rec        features.Record
	key        key
	prev, next int32
}

const none = -1

// spltChunk is how many slots share one SPLT allocation; chunks never move,
// so records can keep slices into them.
const spltChunk = 1024

// Meter meters packets into flows. It is not safe for concurrent use.
type Meter struct {
	cfg    Config
	export ExportFunc

	table map[key]int32
	slots []slot
	free  []int32
	// head and tail of the creation-order list.
	head, tail int32

	// SPLT chunks, spltChunk slots each.
	spltDir  [][]int8
	spltPS   [][]int32
	spltPIAT [][]int64

	tick, scanTick uint64
	processed      uint64
}

// New returns a Meter that hands expired flows to export.
func New(cfg Config, export ExportFunc) *Meter {
	return &Meter{cfg: cfg, export: export, table: make(map[key]int32), head: none, tail: none}
}

// ActiveFlows returns the number of flows in the table.
func (m *Meter) ActiveFlows() int { return len(m.table) }

// Processed returns the number of packets metered.
func (m *Meter) Processed() uint64 { return m.processed }

// advance moves the meter's clock to t if later, and returns the packet's
// time clamped to the clock.
func (m *Meter) advance(t uint64) uint64 {
	if t > m.tick {
		m.tick = t
	}
	return m.tick
}

// Process meters one decoded packet captured at t (ms).
func (m *Meter) Process(p *decode.Packet, t uint64) error {
	t = m.advance(t)
	m.processed++
	scan := m.tick-m.scanTick >= scanInterval
	if scan {
		m.scanTick = m.tick
	}
	if err := m.consume(p, t); err != nil {
		return err
	}
	if scan {
		return m.idleScan()
	}
	return nil
}

// Tick advances the clock with a packet metered elsewhere (another meter's
// packet), running the idle scan when it is due.
func (m *Meter) Tick(t uint64) error {
	m.advance(t)
	if m.tick-m.scanTick >= scanInterval {
		m.scanTick = m.tick
		return m.idleScan()
	}
	return nil
}

func (m *Meter) consume(p *decode.Packet, t uint64) error {
	k := makeKey(p)
	if i, ok := m.table[k]; ok {
		r := &m.slots[i].rec
		reason := int8(none)
		switch {
		case t-r.Bidirectional.LastSeenMS >= m.cfg.IdleTimeout:
			reason = features.ExpiredIdle
		case t-r.Bidirectional.FirstSeenMS >= m.cfg.ActiveTimeout:
			reason = features.ExpiredActive
		}
		if reason == none {
			m.cfg.Features.Update(r, p, t, r.Direction(p))
			return nil
		}
		if err := m.expire(i, reason); err != nil {
			return err
		}
	}
	i := m.alloc()
	m.cfg.Features.Init(&m.slots[i].rec, p, t)
	m.slots[i].key = k
	m.table[k] = i
	return nil
}

// alloc takes a free slot and appends it to the creation-order list.
func (m *Meter) alloc() int32 {
	var i int32
	if n := len(m.free); n > 0 {
		i = m.free[n-1]
		m.free = m.free[:n-1]
	} else {
		i = int32(len(m.slots))
		m.slots = append(m.slots, slot{})
		if n := m.cfg.Features.SPLT; n > 0 {
			m.giveSPLT(i, n)
		}
	}
	s := &m.slots[i]
	s.prev, s.next = m.tail, none
	if m.tail != none {
		m.slots[m.tail].next = i
	} else {
		m.head = i
	}
	m.tail = i
	return i
}

// giveSPLT points a new slot's SPLT sequences into the current chunk,
// allocating a new chunk every spltChunk slots.
func (m *Meter) giveSPLT(i int32, n int) {
	c, off := int(i)/spltChunk, int(i)%spltChunk*n
	if c == len(m.spltDir) {
		m.spltDir = append(m.spltDir, make([]int8, spltChunk*n))
		m.spltPS = append(m.spltPS, make([]int32, spltChunk*n))
		m.spltPIAT = append(m.spltPIAT, make([]int64, spltChunk*n))
	}
	r := &m.slots[i].rec
	r.SPLTDirection = m.spltDir[c][off : off+n : off+n]
	r.SPLTPS = m.spltPS[c][off : off+n : off+n]
	r.SPLTPIAT = m.spltPIAT[c][off : off+n : off+n]
}

// expire exports the flow in slot i with the given reason and frees it.
func (m *Meter) expire(i int32, reason int8) error {
	s := &m.slots[i]
	s.rec.ExpirationID = reason
	err := m.export(&s.rec)
	delete(m.table, s.key)
	if s.prev != none {
		m.slots[s.prev].next = s.next
	} else {
		m.head = s.next
	}
	if s.next != none {
		m.slots[s.next].prev = s.prev
	} else {
		m.tail = s.prev
	}
	m.free = append(m.free, i)
	return err
}

// idleScan expires idle flows from the oldest, stopping at the first flow
// that is not idle or after scanBudget flows.
func (m *Meter) idleScan() error {
	for n := 0; n < scanBudget && m.head != none; n++ {
		last := m.slots[m.head].rec.Bidirectional.LastSeenMS
		if m.tick < last || m.tick-last < m.cfg.IdleTimeout {
			return nil
		}
		if err := m.expire(m.head, features.ExpiredIdle); err != nil {
			return err
		}
	}
	return nil
}

// Flush expires every remaining flow in creation order (end of capture).
func (m *Meter) Flush() error {
	for m.head != none {
		if err := m.expire(m.head, features.ExpiredIdle); err != nil {
			return err
		}
	}
	return nil
}
