package sysvis

import (
	"context"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nfstream-go/nfstream/internal/features"
)

// Attributor keeps a Table polled while a live capture runs and gives each
// exported flow the processes that owned its sockets
// (docs/system-visibility.md):
//
//   - Run polls every interval (0: one poll after another, as NFStream's
//     busy polling).
//   - Notice, which a meter calls when a packet creates a flow, asks for a
//     poll at once when the flow's socket is not in the table yet, so a
//     connection shorter than the interval is still seen. These immediate
//     lookups (Table.Resolve) read the protocol's tables and the fd dirs
//     of the likely owners only, and are rate-limited: the next one starts
//     no sooner than the last one's duration after its end (at most half
//     a core).
//   - Enrich, at export, matches the flow's 5-tuple against every socket
//     seen while the flow was alive, also those that have closed since
//     (Options.Retain).
type Attributor struct {
	t        *Table
	interval time.Duration
	slackMS  int64
	notes    chan sockKey

	immediate, dropped, attributed, unattributed atomic.Uint64
}

// AttributorStats counts what an Attributor did.
type AttributorStats struct {
	// ImmediateLookups are the passes of immediate lookups Notice caused,
	// NoticesDropped the notices that found the queue full.
	ImmediateLookups, NoticesDropped uint64
	// Attributed are the flows Enrich found an owner for, Unattributed
	// those it did not (their other end is remote and its socket unseen, or
	// they are not TCP or UDP).
	Attributed, Unattributed uint64
}

// noticeQueue bounds the flows waiting for an immediate lookup.
const noticeQueue = 4096

// NewAttributor returns an Attributor that polls t every interval. It
// polls once before returning, so the sockets that exist when the capture
// starts are known from its first packet; an error is that poll's.
func NewAttributor(t *Table, interval time.Duration) (*Attributor, error) {
	a := &Attributor{
		t:        t,
		interval: interval,
		// A socket seen by a poll existed from before that poll (back to
		// the previous one) to after it (up to the next one).
		slackMS: 2*interval.Milliseconds() + 100,
		notes:   make(chan sockKey, noticeQueue),
	}
	return a, t.Poll()
}

// Stats returns the counters.
func (a *Attributor) Stats() (ts Stats, as AttributorStats) {
	return a.t.Stats(), AttributorStats{
		ImmediateLookups: a.immediate.Load(), NoticesDropped: a.dropped.Load(),
		Attributed: a.attributed.Load(), Unattributed: a.unattributed.Load(),
	}
}

// Run polls until ctx is done. A failed poll (the process list unreadable)
// is retried at the next interval.
func (a *Attributor) Run(ctx context.Context) {
	// Whole polls run on their own goroutine: the immediate lookups go on
	// while one reads the processes (Poll holds the table's lock only to
	// merge what it read).
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		next := time.NewTimer(a.interval)
		defer next.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-next.C:
				a.t.Poll()
				next.Reset(a.interval)
			}
		}
	}()
	defer func() { <-polled }()
	var soon *time.Timer // immediate lookups waiting for the rate limit
	var soonC <-chan time.Time
	var pending []sockKey
	// The rate limit: the next immediate lookup starts no sooner than
	// the last one's duration after its end.
	var lastEnd time.Time
	var lastDur time.Duration
	resolve := func() {
		// Flows noticed meanwhile are looked up in the same pass.
		for len(pending) < noticeQueue {
			select {
			case k := <-a.notes:
				if a.wanted(k) {
					pending = append(pending, k)
				}
				continue
			default:
			}
			break
		}
		a.immediate.Add(1)
		start := time.Now()
		a.t.resolve(pending)
		lastEnd = time.Now()
		lastDur = lastEnd.Sub(start)
		pending = pending[:0]
	}
	for {
		select {
		case <-ctx.Done():
			if soon != nil {
				soon.Stop()
			}
			return
		case k := <-a.notes:
			if !a.wanted(k) {
				continue
			}
			if len(pending) == noticeQueue {
				a.dropped.Add(1) // left to the next poll
				continue
			}
			pending = append(pending, k)
			if soonC != nil {
				continue // a lookup is already due
			}
			if wait := time.Until(lastEnd.Add(lastDur)); wait > 0 {
				soon = time.NewTimer(wait)
				soonC = soon.C
				continue
			}
			resolve()
		case <-soonC:
			soonC = nil
			resolve()
		}
	}
}

// wanted reports whether flow k needs an immediate lookup: it has a local
// end and the last poll did not see its socket.
func (a *Attributor) wanted(k sockKey) bool {
	return a.t.involvesLocal(k) && !a.known(k)
}

// known reports whether the last poll saw a socket of the flow.
func (a *Attributor) known(k sockKey) bool {
	_, ok := a.t.Lookup(k.proto, k.local.Addr(), k.local.Port(), k.remote.Addr(), k.remote.Port())
	return ok
}

// Notice tells the Attributor that a packet created flow f. It never
// blocks: when the queue is full the flow waits for the next poll.
func (a *Attributor) Notice(f *features.Flow) {
	if f.Protocol != ProtoTCP && f.Protocol != ProtoUDP {
		return
	}
	k := sockKey{f.Protocol,
		netip.AddrPortFrom(addr(f.IPVersion, f.SrcIP), f.SrcPort),
		netip.AddrPortFrom(addr(f.IPVersion, f.DstIP), f.DstPort)}
	select {
	case a.notes <- k:
	default:
		a.dropped.Add(1)
	}
}

// Enrich sets r.Process to the owners of the flow's sockets seen while
// it was alive; it leaves r.Process nil when none was found.
func (a *Attributor) Enrich(r *features.Record) {
	if r.Protocol != ProtoTCP && r.Protocol != ProtoUDP {
		a.unattributed.Add(1)
		return
	}
	from := int64(r.Bidirectional.FirstSeenMS) - a.slackMS
	to := int64(r.Bidirectional.LastSeenMS) + a.slackMS
	src, srcOK, dst, dstOK := a.t.LookupFlow(r.Protocol, addr(r.IPVersion, r.SrcIP), r.SrcPort,
		addr(r.IPVersion, r.DstIP), r.DstPort, from, to)
	if !srcOK && !dstOK {
		a.unattributed.Add(1)
		return
	}
	a.attributed.Add(1)
	p := &features.Process{Owner: features.NoOwner, Peer: features.NoOwner}
	switch {
	case srcOK && dstOK:
		p.Owner, p.Peer = processOwner(src), processOwner(dst)
	case srcOK:
		p.Owner = processOwner(src)
	default:
		p.Owner = processOwner(dst)
	}
	r.Process = p
}

// processOwner is o as the record's columns hold it: the command line's
// arguments joined by spaces, as ps shows them.
func processOwner(o Owner) features.ProcessOwner {
	return features.ProcessOwner{PID: int64(o.PID), UID: int64(o.UID), Name: o.Name, Exe: o.Exe,
		Cmdline: strings.Join(o.Cmdline, " ")}
}

// addr is the address of a flow or record endpoint.
func addr(version uint8, a [16]byte) netip.Addr {
	if version == 4 {
		return netip.AddrFrom4([4]byte(a[:4]))
	}
	return netip.AddrFrom16(a).Unmap()
}
