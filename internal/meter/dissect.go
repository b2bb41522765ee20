package meter

import (
	"github.com/nfstream-go/nfstream/internal/dpi"
	"github.com/nfstream-go/nfstream/internal/features"
)

// dissection is a flow's nDPI state, with NFStream's bookkeeping
// (nf_flow's detected_protocol, detection_completed and guessed).
type dissection struct {
	flow      dpi.Flow
	proto     dpi.Protocol
	completed bool
	guessed   bool
}

// Dissector holds a meter's nDPI detection module and, by flow slot, each
// flow's dissection and L7 values, in pages of pageSize slots kept apart
// from the slots' memory so that a run without dissection does not carry
// them. The meter calls it as it meters (first, next, expired), or, once
// the dissection is split off (Meter.SplitDissection), notes those steps
// as Ops that Run takes on another goroutine.
type Dissector struct {
	dpi    *dpi.Engine
	budget uint64 // Config.Dissections
	pages  []dissPage
}

type dissPage struct {
	diss []dissection
	l7   []features.L7
}

// at returns slot i's dissection and L7 values; first added their page.
func (d *Dissector) at(i int32) (*dissection, *features.L7) {
	pg := &d.pages[i>>pageBits]
	return &pg.diss[i&(pageSize-1)], &pg.l7[i&(pageSize-1)]
}

// first is NFStream's flow_init_bidirectional_dissection for the flow
// created in slot i by a packet whose IP bytes are ip, at t: the first
// packet is always dissected; with a budget of one packet an unknown flow
// is given up on (with a guess) at once.
func (d *Dissector) first(i int32, ip []byte, t uint64) {
	for int(i>>pageBits) >= len(d.pages) {
		d.pages = append(d.pages, dissPage{diss: make([]dissection, pageSize), l7: make([]features.L7, pageSize)})
	}
	ds, _ := d.at(i)
	*ds = dissection{flow: d.dpi.NewFlow()}
	ds.proto = d.dpi.Process(ds.flow, ip, t)
	if ds.proto.AppUnknown() && d.budget == 1 {
		ds.proto, ds.guessed = d.dpi.GiveUp(ds.flow)
		d.close(i)
	}
}

// next is NFStream's flow_update_bidirectional_dissection, run after the
// packet was counted: packets is the flow's packet count with it. While
// detection is open the packet is dissected if the application is unknown
// or nDPI can still learn more; otherwise detection closes without
// dissecting it. At the budget an unknown flow is given up on with a
// guess, and detection closes.
func (d *Dissector) next(i int32, ip []byte, t, packets uint64) {
	ds, _ := d.at(i)
	if ds.completed {
		return
	}
	if ds.proto.AppUnknown() || d.dpi.ExtraDissectionPossible(ds.flow) {
		ds.proto = d.dpi.Process(ds.flow, ip, t)
	} else {
		d.close(i)
		return
	}
	if d.budget == packets {
		if ds.proto.AppUnknown() {
			ds.proto, ds.guessed = d.dpi.GiveUp(ds.flow)
		}
		d.close(i)
	}
}

// expired is NFStream's meter_expire_flow: a flow whose detection is
// still open and unknown is given up on with a guess; then its L7 columns
// are collected. It returns them (valid until slot i's next flow).
func (d *Dissector) expired(i int32) *features.L7 {
	ds, l7 := d.at(i)
	if ds.completed {
		return l7
	}
	if ds.proto.AppUnknown() {
		ds.proto, ds.guessed = d.dpi.GiveUp(ds.flow)
	}
	d.close(i)
	return l7
}

// close collects the L7 columns into the slot's L7 values (every field,
// so nothing of the slot's previous flow remains) and frees the nDPI
// state. NFStream collects at expiry, but once detection is closed no nDPI
// call changes the state any more, so collecting now gives the same values
// and keeps the memory of a flow small for the rest of its life.
func (d *Dissector) close(i int32) {
	ds, l7 := d.at(i)
	info := d.dpi.Collect(ds.flow, ds.proto)
	guessed := uint8(0)
	if ds.guessed {
		guessed = 1
	}
	*l7 = features.L7{
		Application: info.Application, Category: info.Category,
		Guessed: guessed, Confidence: info.Confidence,
		RequestedServerName: info.RequestedServerName,
		ClientFingerprint:   info.ClientFingerprint, ServerFingerprint: info.ServerFingerprint,
		UserAgent: info.UserAgent, ContentType: info.ContentType,
	}
	d.dpi.FreeFlow(&ds.flow)
	ds.completed = true
}

// release frees the nDPI state of every flow still open and the detection
// module.
func (d *Dissector) release() {
	for p := range d.pages {
		for k := range d.pages[p].diss {
			d.dpi.FreeFlow(&d.pages[p].diss[k].flow)
		}
	}
	d.dpi.Close()
}

// Splitting the dissection off the meter (Meter.SplitDissection).

// Op is one step of a flow's dissection that a meter whose dissection is
// split off notes for its Dissector, in the order the meter takes them.
type Op struct {
	Kind uint8 // OpFirst, OpNext or OpExpire
	Slot int32
	// Packets is the flow's packet count with the packet (OpNext).
	Packets uint64
	Time    uint64 // the packet's time, clamped (OpFirst, OpNext)
	// IP is the packet's IP bytes (OpFirst, OpNext), which the caller
	// keeps until Run has taken the Op.
	IP []byte
}

// The kinds of Op.
const (
	OpFirst  uint8 = iota // a flow's first packet
	OpNext                // a later packet of a flow
	OpExpire              // the flow leaves: its record was exported
)

// Run runs, on the goroutine the dissection was split off to, the ops a
// meter noted: the same nDPI calls, on the same packets, in the same order
// as the meter would make them. recs are the records the meter exported,
// the k-th with the k-th OpExpire. At each OpExpire Run sets the record's
// L7 values (valid during the call) and passes it to export. It returns
// export's first error, and then runs no more ops: the run is over.
func (d *Dissector) Run(ops []Op, recs []features.Record, export ExportFunc) error {
	k := 0
	for _, op := range ops {
		switch op.Kind {
		case OpFirst:
			d.first(op.Slot, op.IP, op.Time)
		case OpNext:
			d.next(op.Slot, op.IP, op.Time, op.Packets)
		case OpExpire:
			r := &recs[k]
			k++
			r.L7 = d.expired(op.Slot)
			err := export(r)
			// The meter reuses the record, and must not reach this L7.
			r.L7 = nil
			if err != nil {
				return err
			}
		}
	}
	return nil
}
