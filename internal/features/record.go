package features

import (
	"math"

	"github.com/nfstream-go/nfstream/internal/decode"
)

// Expiration reasons, NFStream's expiration_id values.
const (
	ExpiredIdle   int8 = 0 // idle timeout, or end of capture
	ExpiredActive int8 = 1 // active timeout
	ExpiredCustom int8 = -1
	// ExpiredEvicted is not NFStream's: the flow was exported early because
	// the meter's bound on active flows was reached and a new flow needed
	// its place (the oldest flow goes first).
	ExpiredEvicted int8 = 2
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

// Indexes of the TCP flag counters, in output order (decode.FlagSYN and
// the like are the flags' bits in the TCP header).
const (
	FlagIndexSYN = iota
	FlagIndexCWR
	FlagIndexECE
	FlagIndexURG
	FlagIndexACK
	FlagIndexPSH
	FlagIndexRST
	FlagIndexFIN
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
// x.
func (r *Running[T]) update(x T, n uint64) {
	r.Max = max(r.Max, x)
	r.Min = min(r.Min, x)
	welford(&r.Mean, &r.M2, float64(x), n)
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

// Record is one bidirectional flow as it is exported: what sinks read.
// The meter keeps a flow in the more compact form of a Flow while it runs
// and writes it into a Record when the flow expires.
type Record struct {
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

	// UDPS holds the values plugins set (nil without plugins). The meter
	// hands each flow its own, so a copy of the record may share it.
	UDPS *UDPS

	// Process holds the system visibility values (nil: unknown, or system
	// visibility off). It is set after the meter, never changed after,
	// so copies may share it.
	Process *Process
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

// Clone returns a copy of r that shares no memory with it (the meter
// reuses a record's sequences and L7 storage for later flows).
func (r *Record) Clone() Record {
	var cp Record
	cp.CopyFrom(r)
	return cp
}

// CopyFrom makes r a copy of src that shares no memory with it, reusing
// r's own sequences and L7 storage where they are large enough.
func (r *Record) CopyFrom(src *Record) {
	dir, ps, piat, l7 := r.SPLTDirection, r.SPLTPS, r.SPLTPIAT, r.L7
	*r = *src
	r.SPLTDirection = append(dir[:0], src.SPLTDirection...)
	r.SPLTPS = append(ps[:0], src.SPLTPS...)
	r.SPLTPIAT = append(piat[:0], src.SPLTPIAT...)
	if src.L7 != nil {
		if l7 == nil {
			l7 = new(L7)
		}
		*l7 = *src.L7
		r.L7 = l7
	}
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

// Config selects which features a flow accumulates.
type Config struct {
	Accounting AccountingMode
	Stats      bool
	// SPLT is the length of the early-packet sequences; 0 disables them.
	SPLT int
}
