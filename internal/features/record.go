package features

import (
	"math"
	"slices"
	"unsafe"

	"github.com/nfstream-go/nfstream/internal/decode"
)

// Expiration reasons, NFStream's expiration_id values.
const (
	ExpiredIdle   int8 = 0 // idle timeout, or end of capture
	ExpiredActive int8 = 1 // active timeout
	ExpiredCustom int8 = -1
)

// AccountingMode selects which size of a packet every byte counter, size
// statistic and SPLT size uses (NFStream's accounting_mode).
type AccountingMode uint8

// The four accounting modes.
const (
	AccountLink AccountingMode = iota
	AccountIP
	AccountTransport
	AccountPayload
)

// Size returns the size of p under mode m.
func (m AccountingMode) Size(p *decode.Packet) uint16 {
	switch m {
	case AccountIP:
		return p.IPSize
	case AccountTransport:
		return p.TransportSize
	case AccountPayload:
		return p.PayloadSize
	}
	return p.RawSize
}

// TCP flag counters in output order.
const (
	FlagSYN = iota
	FlagCWR
	FlagECE
	FlagURG
	FlagACK
	FlagPSH
	FlagRST
	FlagFIN
	numFlags
)

// flagBits maps output order to TCP header bits.
var flagBits = [numFlags]uint8{decode.FlagSYN, decode.FlagCWR, decode.FlagECE, decode.FlagURG,
	decode.FlagACK, decode.FlagPSH, decode.FlagRST, decode.FlagFIN}

// Running holds min, max and the Welford mean and sum of squared deviations
// of a series, in the C engine's types: sizes are uint16 there, times uint64.
type Running[T uint16 | uint64] struct {
	Min, Max T
	Mean, M2 float64
}

func (r *Running[T]) init(x T) {
	r.Min, r.Max, r.Mean = x, x, float64(x)
}

// update is NFStream's flow_update_*: n is the number of samples including
// x. The operation order is NFStream's, so the doubles are bit-identical.
func (r *Running[T]) update(x T, n uint64) {
	if x > r.Max {
		r.Max = x
	}
	if x < r.Min {
		r.Min = x
	}
	old := r.Mean
	r.Mean += (float64(x) - old) / float64(n)
	// The conversion keeps the compiler from fusing the multiply and add
	// into one FMA, which would round differently from NFStream's C.
	r.M2 += float64((float64(x) - old) * (float64(x) - r.Mean))
}

// Stddev is the sample standard deviation over n samples, 0 when n < 2
// (NFStream's sync step: sqrt(M2/(n-1))).
func (r *Running[T]) Stddev(n uint64) float64 {
	if n < 2 {
		return 0
	}
	return math.Sqrt(r.M2 / float64(n-1))
}

// Direction holds the counters of one scope: bidirectional, src2dst or
// dst2src.
type Direction struct {
	FirstSeenMS, LastSeenMS uint64
	Packets, Bytes          uint64
	PS                      Running[uint16]
	PIAT                    Running[uint64]
}

// DurationMS is the time from the scope's first to its last packet (0 for
// a scope without packets: both times are then 0).
func (d *Direction) DurationMS() uint64 { return d.LastSeenMS - d.FirstSeenMS }

// PIATStddev is the sample standard deviation of the inter-arrival times
// (NFStream: sqrt(M2/(n-2)) for n > 2 packets).
func (d *Direction) PIATStddev() float64 {
	if d.Packets < 3 {
		return 0
	}
	return math.Sqrt(d.PIAT.M2 / float64(d.Packets-2))
}

// Record is one bidirectional flow.
type Record struct {
	// The fields a packet update reads and writes come first, so that they
	// share as few cache lines as possible; the meter touches them ahead of
	// use (see meter.ProcessBatch). Cold fields follow.
	SrcIP, DstIP [16]byte
	SrcPort      uint16
	DstPort      uint16
	VlanID       uint16
	IPVersion    uint8
	Protocol     uint8
	TunnelID     uint8
	ExpirationID int8

	Bidirectional, Src2Dst, Dst2Src Direction
	// Flags counts packets with each TCP flag (FlagSYN...FlagFIN) per
	// direction: [0] src2dst, [1] dst2src. The bidirectional counts are
	// their sums (see FlagPackets).
	Flags [2][numFlags]uint64

	ID     uint64
	SrcMAC [6]byte
	DstMAC [6]byte

	// L7 holds what nDPI found (when dissection is on; nil otherwise). It
	// lives outside the record so flows metered without dissection do not
	// carry its strings.
	L7 *L7

	// Order places the record in the output of a single meter; the merge
	// of several meters sorts by it.
	Order Order
	// ExpiredMS is the meter's packet time (ms) when the flow expired; it
	// never decreases along the output, so rotation can file the flow in
	// the interval in which it expired.
	ExpiredMS uint64

	// SPLT sequences, each of the configured length, -1 where no packet.
	SPLTDirection []int8
	SPLTPS        []int32
	SPLTPIAT      []int64
}

// Order is when a single NFStream meter would export a flow: at the
// packet with index Event (packets counted from 0 among those metered),
// Phase 0 when that packet's own flow times out, Phase 1 in the idle scan
// that follows the packet (there in creation order, Created being the index
// of the flow's first packet), Phase 2 at the end of the capture (Event is
// then the largest uint64, and flows follow in creation order).
type Order struct {
	Event   uint64
	Created uint64
	Phase   uint8
}

// Order phases.
const (
	PhasePacket uint8 = iota
	PhaseScan
	PhaseEnd
)

// Less orders exports as a single meter makes them.
func (o Order) Less(p Order) bool {
	if o.Event != p.Event {
		return o.Event < p.Event
	}
	if o.Phase != p.Phase {
		return o.Phase < p.Phase
	}
	return o.Created < p.Created
}

// L7 is NFStream's nine dissection columns.
type L7 struct {
	Application, Category string
	Guessed               uint8
	// Confidence uses NFStream's numbering: 0 unknown, 1 match by port,
	// 5 DPI cache, 6 DPI, 7 match by IP.
	Confidence                           uint8
	RequestedServerName                  string
	ClientFingerprint, ServerFingerprint string
	UserAgent, ContentType               string
}

// HotSize is the size of the leading part of a Record that packet updates
// use (everything before ID).
const HotSize = unsafe.Offsetof(Record{}.ID)

// Clone returns a copy of r that shares no memory with it (the meter
// reuses a record's sequences and L7 storage for later flows).
func (r *Record) Clone() Record {
	cp := *r
	cp.SPLTDirection = slices.Clone(r.SPLTDirection)
	cp.SPLTPS = slices.Clone(r.SPLTPS)
	cp.SPLTPIAT = slices.Clone(r.SPLTPIAT)
	if r.L7 != nil {
		l7 := *r.L7
		cp.L7 = &l7
	}
	return cp
}

// noL7 stands for the L7 values of a record metered without dissection.
var noL7 L7

// l7 returns the record's L7 values, empty without dissection.
func (r *Record) l7() *L7 {
	if r.L7 == nil {
		return &noL7
	}
	return r.L7
}

// FlagPackets returns the number of packets with flag f in a scope:
// 0 bidirectional, 1 src2dst, 2 dst2src.
func (r *Record) FlagPackets(scope, f int) uint64 {
	if scope == 0 {
		return r.Flags[0][f] + r.Flags[1][f]
	}
	return r.Flags[scope-1][f]
}

func (r *Record) countFlags(dir uint8, f uint8) {
	if f == 0 {
		return
	}
	for i, bit := range flagBits {
		if f&bit != 0 {
			r.Flags[dir][i]++
		}
	}
}

// Config selects which features a Record accumulates.
type Config struct {
	Accounting AccountingMode
	Stats      bool
	// SPLT is the length of the early-packet sequences; 0 disables them.
	SPLT int
}

// Init starts r from the first packet p at time t (ms). The SPLT slices of
// r, if SPLT is on, must already have the configured length; Init fills
// them.
func (c *Config) Init(r *Record, p *decode.Packet, t uint64) {
	size := c.Accounting.Size(p)
	splt := r.SPLTDirection
	spltPS, spltPIAT := r.SPLTPS, r.SPLTPIAT
	l7 := r.L7
	if l7 != nil {
		*l7 = L7{}
	}
	*r = Record{
		L7:        l7,
		IPVersion: p.IPVersion, Protocol: p.Protocol, TunnelID: p.TunnelID, VlanID: p.VlanID,
		SrcPort: p.SrcPort, DstPort: p.DstPort, SrcIP: p.SrcIP, DstIP: p.DstIP,
		SrcMAC: p.SrcMAC, DstMAC: p.DstMAC,
		SPLTDirection: splt, SPLTPS: spltPS, SPLTPIAT: spltPIAT,
	}
	if c.SPLT > 0 {
		for i := range splt {
			splt[i], spltPS[i], spltPIAT[i] = -1, -1, -1
		}
		splt[0], spltPS[0], spltPIAT[0] = 0, int32(size), 0
	}
	for _, d := range [2]*Direction{&r.Bidirectional, &r.Src2Dst} {
		d.FirstSeenMS, d.LastSeenMS = t, t
		d.Packets, d.Bytes = 1, uint64(size)
		if c.Stats {
			d.PS.init(size)
		}
	}
	if c.Stats {
		r.countFlags(0, p.Flags)
	}
}

// Direction reports whether p travels dst to src in r, with NFStream's
// rule: ports first, then addresses.
func (r *Record) Direction(p *decode.Packet) uint8 {
	if r.SrcPort != p.SrcPort || r.DstPort != p.DstPort {
		return 1
	}
	if r.SrcIP != p.SrcIP || r.DstIP != p.DstIP {
		return 1
	}
	return 0
}

// Update adds packet p, seen at time t (ms, never before the flow's last
// packet) in direction dir (0 src2dst, 1 dst2src), to r.
func (c *Config) Update(r *Record, p *decode.Packet, t uint64, dir uint8) {
	size := c.Accounting.Size(p)
	bi := &r.Bidirectional
	piat := t - bi.LastSeenMS
	bi.Packets++
	if n := bi.Packets - 1; n < uint64(c.SPLT) {
		r.SPLTDirection[n] = int8(dir)
		r.SPLTPS[n] = int32(size)
		r.SPLTPIAT[n] = int64(piat)
	}
	bi.LastSeenMS = t
	bi.Bytes += uint64(size)
	if c.Stats {
		r.countFlags(dir, p.Flags)
		bi.PS.update(size, bi.Packets)
		if bi.Packets == 2 {
			bi.PIAT.init(piat)
		} else {
			bi.PIAT.update(piat, bi.Packets-1)
		}
	}
	d := &r.Src2Dst
	if dir == 1 {
		d = &r.Dst2Src
	}
	d.Packets++
	d.Bytes += uint64(size)
	if d.Packets == 1 {
		d.FirstSeenMS, d.LastSeenMS = t, t
		if c.Stats {
			d.PS.init(size)
		}
		return
	}
	gap := t - d.LastSeenMS
	d.LastSeenMS = t
	if c.Stats {
		d.PS.update(size, d.Packets)
		if d.Packets == 2 {
			d.PIAT.init(gap)
		} else {
			d.PIAT.update(gap, d.Packets-1)
		}
	}
}
