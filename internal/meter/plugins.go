package meter

import (
	"fmt"

	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/plugin"
)

// The plugin hooks (NFStream's order, docs/plugins.md). They run only
// when the meter has plugins; the packet path without plugins checks
// m.plugins and nothing else.

func (m *Meter) udps(i int32) **features.UDPS { return &m.pages[i>>pageBits].udps[i&(pageSize-1)] }

// fail records the first plugin error: the meter stops there.
func (m *Meter) fail(err error) error {
	if m.failed == nil {
		m.failed = err
	}
	return m.failed
}

// initPlugins runs on_init for the new flow in slot i, and expires it at
// once if a plugin set expiration_id to -1.
func (m *Meter) initPlugins(i int32, p *decode.Packet, t uint64) error {
	if m.failed != nil {
		return m.failed
	}
	f := &m.slot(i).flow
	u := &features.UDPS{}
	*m.udps(i) = u
	m.pkt = plugin.Packet{P: p, F: f, TimeMS: t}
	fv := m.view.Live(f, m.splt(i), u)
	for k, pl := range m.plugins {
		if err := pl.OnInit(&m.pkt, fv); err != nil {
			return m.fail(&plugin.HookError{Plugin: m.pnames[k], Hook: plugin.HookInit, Flow: plugin.FlowKey(f), Err: err})
		}
	}
	if fv.CustomExpiry() {
		return m.expire(i, features.ExpiredCustom, features.PhasePacket)
	}
	return nil
}

// updateWithPlugins adds p to the flow f in slot i and runs on_update.
func (m *Meter) updateWithPlugins(i int32, f *features.Flow, p *decode.Packet, t uint64) error {
	if m.failed != nil {
		return m.failed
	}
	delta := t - f.LastSeenMS
	m.cfg.Features.Update(f, m.splt(i), p, t)
	if m.ds != nil {
		m.dissectNext(i, p, t, f.Packets)
	}
	m.pkt = plugin.Packet{P: p, F: f, TimeMS: t, DeltaMS: delta, Direction: f.Direction(p)}
	fv := m.view.Live(f, m.splt(i), *m.udps(i))
	for k, pl := range m.plugins {
		if err := pl.OnUpdate(&m.pkt, fv); err != nil {
			return m.fail(&plugin.HookError{Plugin: m.pnames[k], Hook: plugin.HookUpdate, Flow: plugin.FlowKey(f), Err: err})
		}
	}
	if fv.CustomExpiry() {
		return m.expire(i, features.ExpiredCustom, features.PhasePacket)
	}
	return nil
}

// expirePlugins runs on_expire for the flow of slot i exported in r, and
// hands its udps values to r.
func (m *Meter) expirePlugins(i int32, r *features.Record) error {
	if m.failed != nil {
		return m.failed
	}
	up := m.udps(i)
	u := *up
	*up = nil
	fv := m.view.Expired(r, u)
	for k, pl := range m.plugins {
		if err := pl.OnExpire(fv); err != nil {
			return m.fail(&plugin.HookError{Plugin: m.pnames[k], Hook: plugin.HookExpire, Flow: plugin.RecordKey(r), Err: err})
		}
	}
	if err := plugin.Finalize(u); err != nil {
		return m.fail(fmt.Errorf("flow %s: %w", plugin.RecordKey(r), err))
	}
	r.UDPS = u
	return nil
}
