package meter

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"

	"github.com/nfstream-go/nfstream/internal/decode"
)

// table indexes flow slots by the direction-agnostic flow key. It is an
// open-addressing hash table with linear probing whose entries are 8 bytes:
// the low 32 bits of the key's hash and the slot index plus one (0 marks an
// empty entry). The key itself is not stored: a candidate slot is compared
// with the packet through the slot's record, which the meter reads anyway.
// Deletion shifts later entries back, so there are no tombstones.
type table struct {
	entries []uint64
	mask    uint64
	n       int
	seed    uint64
}

const minTableSize = 1024

func newTable() table {
	return table{
		entries: make([]uint64, minTableSize),
		mask:    minTableSize - 1,
		seed:    new(maphash.Hash).Sum64() | 1, // random per process
	}
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hashPacket hashes the key of p's flow so both directions hash alike: the
// two endpoints are combined with commutative operations.
func (t *table) hashPacket(p *decode.Packet) uint32 {
	ea := endpointHash(&p.SrcIP, p.SrcPort, t.seed)
	eb := endpointHash(&p.DstIP, p.DstPort, t.seed)
	meta := uint64(p.Protocol) | uint64(p.IPVersion)<<8 | uint64(p.TunnelID)<<16 | uint64(p.VlanID)<<24
	return uint32(mix((ea+eb)^meta^t.seed, (ea^eb)|1))
}

func endpointHash(ip *[16]byte, port uint16, seed uint64) uint64 {
	lo := binary.LittleEndian.Uint64(ip[:8])
	hi := binary.LittleEndian.Uint64(ip[8:])
	return mix(lo^seed, hi^uint64(port)^0x9e3779b97f4a7c15)
}

// find returns the slot of p's flow, if any, and the entry position where
// it is or would be inserted.
func (t *table) find(m *Meter, p *decode.Packet, h uint32) (slot int32, pos uint64, ok bool) {
	pos = uint64(h) & t.mask
	for {
		e := t.entries[pos]
		if e == 0 {
			return 0, pos, false
		}
		if uint32(e>>32) == h {
			i := int32(uint32(e)) - 1
			if m.slot(i).flow.Matches(p) {
				return i, pos, true
			}
		}
		pos = (pos + 1) & t.mask
	}
}

// lookup returns the first slot whose entry has hash h, or noSlot: the
// likely slot of a packet with that hash, found without reading any slot.
func (t *table) lookup(h uint32) int32 {
	for pos := uint64(h) & t.mask; ; pos = (pos + 1) & t.mask {
		e := t.entries[pos]
		if e == 0 {
			return noSlot
		}
		if uint32(e>>32) == h {
			return int32(uint32(e)) - 1
		}
	}
}

// insert stores slot i with hash h at pos, as returned by find.
func (t *table) insert(pos uint64, h uint32, i int32) {
	t.entries[pos] = uint64(h)<<32 | uint64(uint32(i)+1)
	t.n++
	if uint64(t.n)*2 > uint64(len(t.entries)) {
		t.grow()
	}
}

func (t *table) grow() {
	old := t.entries
	t.entries = make([]uint64, 2*len(old))
	t.mask = uint64(len(t.entries) - 1)
	prefault(t.entries)
	for _, e := range old {
		if e == 0 {
			continue
		}
		pos := (e >> 32) & t.mask
		for t.entries[pos] != 0 {
			pos = (pos + 1) & t.mask
		}
		t.entries[pos] = e
	}
}

// clear removes every entry.
func (t *table) clear() {
	clear(t.entries)
	t.n = 0
}

// remove deletes the entry for slot i, whose flow hashed to h.
func (t *table) remove(h uint32, i int32) {
	want := uint64(h)<<32 | uint64(uint32(i)+1)
	pos := uint64(h) & t.mask
	for t.entries[pos] != want {
		pos = (pos + 1) & t.mask
	}
	// Backward-shift deletion: move later entries of the probe run into
	// the hole when their home position allows it.
	hole := pos
	for {
		pos = (pos + 1) & t.mask
		e := t.entries[pos]
		if e == 0 {
			break
		}
		home := (e >> 32) & t.mask
		if (pos-home)&t.mask >= (pos-hole)&t.mask {
			t.entries[hole] = e
			hole = pos
		}
	}
	t.entries[hole] = 0
	t.n--
}

// prefault writes one zero on each page of a new array. Fresh from the
// system, its pages are first mapped to the shared zero page when the
// rehash reads them, then copied when it writes: two faults a page, and
// the second one flushes the mapping from every CPU that runs one of the
// process's threads (an interrupt to each, costly with several meters).
// Written first, a page takes a single fault and no flush.
func prefault(a []uint64) {
	const perPage = 4096 / 8
	for i := 0; i < len(a); i += perPage {
		a[i] = 0
	}
}
