package pipeline

import (
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/meter"
)

// Dissection beside the meter (docs/design.md, "Dissection beside the
// meter"). With nDPI, no plugin and one meter, nDPI runs on a goroutine
// of its own, the dissector, behind the meter's goroutine: the meter
// notes, batch by batch, which packets nDPI must see and which flows
// leave (meter.Op), with a copy of each record it exports; the dissector
// makes the nDPI calls in that order, with a single detection module as
// before, sets each record's L7 values and writes it. The output is
// therefore the one meter's, byte for byte.

// unitRecords is the most records a unit carries: a batch at which many
// flows leave (an idle scan, the end of the capture) is handed over in
// several units, so the records between the meter and the dissector stay
// few.
const unitRecords = 512

// splitUnits is how many units circulate between the meter and the
// dissector.
const splitUnits = 4

// splitNDPI is whether nDPI runs behind one meter rather than in it; a
// variable only so that tests can compare the two.
var splitNDPI = true

// unit is what the meter hands the dissector: the ops it noted, whose
// packet bytes are in the arenas of the batches handed over with them, and
// the records it exported. b, if not nil, is the batch whose last unit
// this is: the dissector recycles it after the unit's ops.
type unit struct {
	b    *batch
	ops  []meter.Op
	recs []features.Record
}

// splitter joins the meter's side and the dissector's.
type splitter struct {
	m   *meter.Meter
	x   *meter.Dissector
	cur *unit // the unit the meter fills
	// full carries units to the dissector, free brings them back; the
	// dissector closes done when it stops early, with its error in err
	// (read err only after ended is closed).
	full, free chan *unit
	done       chan struct{}
	ended      chan struct{}
	err        error
	write      func(*features.Record) error
	recycle    func(*batch)
}

// splitDissection splits m's dissection off onto a dissector goroutine
// that writes the records with write and recycles batches with recycle;
// nil when m's dissection cannot be split (meter.Meter.SplitDissection).
func splitDissection(m *meter.Meter, write func(*features.Record) error, recycle func(*batch)) *splitter {
	s := &splitter{m: m, full: make(chan *unit, splitUnits), free: make(chan *unit, splitUnits),
		done: make(chan struct{}), ended: make(chan struct{}), write: write, recycle: recycle, cur: new(unit)}
	if s.x = m.SplitDissection(s.export); s.x == nil {
		return nil
	}
	for range splitUnits - 1 {
		s.free <- new(unit)
	}
	go s.run()
	return s
}

// export is the meter's export: a copy of r waits in the current unit.
func (s *splitter) export(r *features.Record) error {
	s.cur.recs = appendCopy(s.cur.recs, r)
	if len(s.cur.recs) == unitRecords {
		return s.hand(nil)
	}
	return nil
}

// hand gives the dissector the current unit, the last of batch b if b is
// not nil, and takes the next one. It returns errStop when the dissector
// has stopped; the dissector then does not have b.
func (s *splitter) hand(b *batch) error {
	u := s.cur
	var next *unit
	select {
	case next = <-s.free:
	case <-s.done:
		return errStop
	}
	u.b, u.ops = b, s.m.TakeOps(next.ops)
	next.ops = nil
	s.cur = next
	select {
	case s.full <- u:
		return nil
	case <-s.done:
		return errStop
	}
}

// run is the dissector: it runs the units in order until the first error,
// then only recycles them.
func (s *splitter) run() {
	defer close(s.ended)
	for u := range s.full {
		if s.err == nil {
			if err := s.x.Run(u.ops, u.recs, s.write); err != nil {
				s.err = err
				close(s.done)
			}
		}
		if u.b != nil {
			s.recycle(u.b)
		}
		u.b, u.recs = nil, u.recs[:0]
		s.free <- u
	}
}

// finish hands over what the meter noted since its last batch (the flush
// at the end of the capture), waits for the dissector and returns its
// error.
func (s *splitter) finish() error {
	s.hand(nil)
	close(s.full)
	<-s.ended
	return s.err
}
