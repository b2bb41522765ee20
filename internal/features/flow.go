package features

import (
	"unsafe"

	"github.com/nfstream-go/nfstream/internal/decode"
)

// Flow is a flow while it is metered: the state packets update, laid out
// for the packet path rather than for output. A Record is its exported
// form (see Config.Export).
//
// On a large capture each packet lands on a flow whose memory is not in
// cache, so the number of cache lines a packet touches sets the meter's
// speed. The layout puts what every packet reads and writes (the key and
// the bidirectional counters) in the first 128 bytes, and what a packet of
// one direction writes (that direction's counters and flag counts) in a
// 128-byte block per direction: a packet touches 4 of the flow's lines
// when the flow starts on a 64-byte boundary (the meter's slots do). The
// fields after the blocks are read only when the flow starts and ends.
type Flow struct {
	SrcIP, DstIP [16]byte
	// The bidirectional scope. Its first packet is always the flow's first
	// src2dst packet.
	FirstSeenMS, LastSeenMS uint64
	Packets, Bytes          uint64
	psMean, psM2            float64
	piat                    Running[uint64]
	psMin, psMax            uint16
	SrcPort, DstPort        uint16
	VlanID                  uint16
	IPVersion               uint8
	Protocol                uint8
	TunnelID                uint8
	_                       [3]byte

	// dir holds src2dst [0] and dst2src [1].
	dir [2]flowDirection

	SrcMAC, DstMAC [6]byte
	// flagsHigh holds the upper halves of the flag counters, carried into
	// when a lower half wraps, so counts stay exact 64-bit values (as in
	// NFStream) while the per-packet block keeps 32 bits.
	flagsHigh [2][numFlags]uint32
}

// flowDirection is one direction of a Flow: 128 bytes, one aligned pair of
// cache lines, on any word size.
type flowDirection struct {
	directionCounters
	_ [128 - unsafe.Sizeof(directionCounters{})]byte
}

type directionCounters struct {
	FirstSeenMS, LastSeenMS uint64
	Packets, Bytes          uint64
	ps                      Running[uint16]
	piat                    Running[uint64]
	flags                   [numFlags]uint32
}

// The layout the comments above promise; a field added in the wrong place
// breaks the build here.
var (
	_ [0]struct{} = [unsafe.Offsetof(Flow{}.dir) - 128]struct{}{}
	_ [0]struct{} = [unsafe.Sizeof(flowDirection{}) - 128]struct{}{}
)

// SPLTEntry is one packet of a flow's early-packet sequences, kept together
// so that recording a packet writes one cache line.
type SPLTEntry struct {
	PIAT int64
	PS   int32
	Dir  int8
}

// Direction reports whether p travels dst to src in f, with NFStream's
// rule: ports first, then addresses.
func (f *Flow) Direction(p *decode.Packet) uint8 {
	if f.SrcPort != p.SrcPort || f.DstPort != p.DstPort {
		return 1
	}
	if f.SrcIP != p.SrcIP || f.DstIP != p.DstIP {
		return 1
	}
	return 0
}

// Matches reports whether p belongs to f, in either direction.
func (f *Flow) Matches(p *decode.Packet) bool {
	if f.Protocol != p.Protocol || f.VlanID != p.VlanID || f.TunnelID != p.TunnelID || f.IPVersion != p.IPVersion {
		return false
	}
	if f.SrcPort == p.SrcPort && f.DstPort == p.DstPort && f.SrcIP == p.SrcIP && f.DstIP == p.DstIP {
		return true
	}
	return f.SrcPort == p.DstPort && f.DstPort == p.SrcPort && f.SrcIP == p.DstIP && f.DstIP == p.SrcIP
}

// welford is NFStream's running mean and sum of squared deviations update:
// n is the number of samples including x. The operation order is
// NFStream's, so the doubles are bit-identical.
func welford(mean, m2 *float64, x float64, n uint64) {
	old := *mean
	*mean += (x - old) / float64(n)
	// The conversion keeps the compiler from fusing the multiply and add
	// into one FMA, which would round differently from NFStream's C.
	*m2 += float64((x - old) * (x - *mean))
}

// Init starts f from the first packet p at time t (ms), and splt, the
// flow's SPLT entries (empty without SPLT), with it.
func (c *Config) Init(f *Flow, splt []SPLTEntry, p *decode.Packet, t uint64) {
	size := c.Accounting.Size(p)
	*f = Flow{
		IPVersion: p.IPVersion, Protocol: p.Protocol, TunnelID: p.TunnelID, VlanID: p.VlanID,
		SrcPort: p.SrcPort, DstPort: p.DstPort, SrcIP: p.SrcIP, DstIP: p.DstIP,
		SrcMAC: p.SrcMAC, DstMAC: p.DstMAC,
		FirstSeenMS: t, LastSeenMS: t, Packets: 1, Bytes: uint64(size),
	}
	d := &f.dir[0]
	d.FirstSeenMS, d.LastSeenMS, d.Packets, d.Bytes = t, t, 1, uint64(size)
	if len(splt) > 0 {
		splt[0] = SPLTEntry{PS: int32(size)}
	}
	if c.Stats {
		f.psMin, f.psMax, f.psMean = size, size, float64(size)
		d.ps.init(size)
		f.countFlags(0, p.Flags)
	}
}

// Update adds packet p, seen at time t (ms, never before the flow's last
// packet), to f; splt is the flow's SPLT entries.
func (c *Config) Update(f *Flow, splt []SPLTEntry, p *decode.Packet, t uint64) {
	size := c.Accounting.Size(p)
	dir := f.Direction(p)
	piat := t - f.LastSeenMS
	f.Packets++
	if n := f.Packets - 1; n < uint64(len(splt)) {
		splt[n] = SPLTEntry{PIAT: int64(piat), PS: int32(size), Dir: int8(dir)}
	}
	f.LastSeenMS = t
	f.Bytes += uint64(size)
	if c.Stats {
		f.psMax = max(f.psMax, size)
		f.psMin = min(f.psMin, size)
		welford(&f.psMean, &f.psM2, float64(size), f.Packets)
		if f.Packets == 2 {
			f.piat.init(piat)
		} else {
			f.piat.update(piat, f.Packets-1)
		}
		f.countFlags(dir, p.Flags)
	}
	d := &f.dir[dir]
	d.Packets++
	d.Bytes += uint64(size)
	if d.Packets == 1 {
		d.FirstSeenMS, d.LastSeenMS = t, t
		if c.Stats {
			d.ps.init(size)
		}
		return
	}
	gap := t - d.LastSeenMS
	d.LastSeenMS = t
	if c.Stats {
		d.ps.update(size, d.Packets)
		if d.Packets == 2 {
			d.piat.init(gap)
		} else {
			d.piat.update(gap, d.Packets-1)
		}
	}
}

func (f *Flow) countFlags(dir uint8, flags uint8) {
	if flags == 0 {
		return
	}
	d := &f.dir[dir]
	for i, bit := range flagBits {
		if flags&bit != 0 {
			d.flags[i]++
			if d.flags[i] == 0 {
				f.flagsHigh[dir][i]++
			}
		}
	}
}

// Export writes f and its SPLT entries into r: every field but ID, L7,
// ExpirationID, Order and ExpiredMS, which the meter and the pipeline set.
// r's SPLT slices must have the configured length.
func (c *Config) Export(f *Flow, splt []SPLTEntry, r *Record) {
	r.SrcIP, r.DstIP, r.SrcPort, r.DstPort = f.SrcIP, f.DstIP, f.SrcPort, f.DstPort
	r.VlanID, r.IPVersion, r.Protocol, r.TunnelID = f.VlanID, f.IPVersion, f.Protocol, f.TunnelID
	r.SrcMAC, r.DstMAC = f.SrcMAC, f.DstMAC
	r.Bidirectional = Direction{
		FirstSeenMS: f.FirstSeenMS, LastSeenMS: f.LastSeenMS, Packets: f.Packets, Bytes: f.Bytes,
		PS:   Running[uint16]{Min: f.psMin, Max: f.psMax, Mean: f.psMean, M2: f.psM2},
		PIAT: f.piat,
	}
	for dir, out := range [2]*Direction{&r.Src2Dst, &r.Dst2Src} {
		d := &f.dir[dir]
		*out = Direction{FirstSeenMS: d.FirstSeenMS, LastSeenMS: d.LastSeenMS, Packets: d.Packets, Bytes: d.Bytes, PS: d.ps, PIAT: d.piat}
		for i, n := range d.flags {
			r.Flags[dir][i] = uint64(f.flagsHigh[dir][i])<<32 | uint64(n)
		}
	}
	for n := range splt {
		if uint64(n) < f.Packets {
			e := &splt[n]
			r.SPLTDirection[n], r.SPLTPS[n], r.SPLTPIAT[n] = e.Dir, e.PS, e.PIAT
		} else {
			r.SPLTDirection[n], r.SPLTPS[n], r.SPLTPIAT[n] = -1, -1, -1
		}
	}
}
