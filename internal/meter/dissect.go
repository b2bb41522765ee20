package meter

import (
	"github.com/nfstream-go/nfstream/internal/decode"
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

// dissectFirst is NFStream's flow_init_bidirectional_dissection: the first
// packet is always dissected; with a budget of one packet an unknown flow
// is given up on (with a guess) at once.
func (m *Meter) dissectFirst(i int32, p *decode.Packet, t uint64) {
	d := m.diss(i)
	*d = dissection{flow: m.dpi.NewFlow()}
	d.proto = m.dpi.Process(d.flow, p.IPContent, t)
	if d.proto.AppUnknown() && m.cfg.Dissections == 1 {
		d.proto, d.guessed = m.dpi.GiveUp(d.flow)
		m.closeDissection(i)
	}
}

// dissectNext is NFStream's flow_update_bidirectional_dissection, run after
// the packet was counted (Packets includes it). While detection is open the
// packet is dissected if the application is unknown or nDPI can still learn
// more; otherwise detection closes without dissecting it. At the budget an
// unknown flow is given up on with a guess, and detection closes.
func (m *Meter) dissectNext(i int32, p *decode.Packet, t uint64) {
	d := m.diss(i)
	if d.completed {
		return
	}
	if d.proto.AppUnknown() || m.dpi.ExtraDissectionPossible(d.flow) {
		d.proto = m.dpi.Process(d.flow, p.IPContent, t)
	} else {
		m.closeDissection(i)
		return
	}
	if uint64(m.cfg.Dissections) == m.slot(i).flow.Packets {
		if d.proto.AppUnknown() {
			d.proto, d.guessed = m.dpi.GiveUp(d.flow)
		}
		m.closeDissection(i)
	}
}

// dissectExpired is NFStream's meter_expire_flow: a flow whose detection is
// still open and unknown is given up on with a guess; then its L7 columns
// are collected.
func (m *Meter) dissectExpired(i int32) {
	d := m.diss(i)
	if d.completed {
		return
	}
	if d.proto.AppUnknown() {
		d.proto, d.guessed = m.dpi.GiveUp(d.flow)
	}
	m.closeDissection(i)
}

// closeDissection collects the L7 columns into the slot's L7 values (every
// field, so nothing of the slot's previous flow remains) and frees the
// nDPI state. NFStream collects at expiry, but once detection is closed no
// nDPI call changes the state any more, so collecting now gives the same
// values and keeps the memory of a flow small for the rest of its life.
func (m *Meter) closeDissection(i int32) {
	d := m.diss(i)
	info := m.dpi.Collect(d.flow, d.proto)
	guessed := uint8(0)
	if d.guessed {
		guessed = 1
	}
	*m.l7(i) = features.L7{
		Application: info.Application, Category: info.Category,
		Guessed: guessed, Confidence: info.Confidence,
		RequestedServerName: info.RequestedServerName,
		ClientFingerprint:   info.ClientFingerprint, ServerFingerprint: info.ServerFingerprint,
		UserAgent: info.UserAgent, ContentType: info.ContentType,
	}
	m.dpi.FreeFlow(&d.flow)
	d.completed = true
}
