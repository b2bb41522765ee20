// Package plugin is NFStream's NFPlugin for the meter: the hooks a plugin
// implements, the packet and flow views they receive, the udps values
// they set, and the rule that turns those values into columns.
//
// Hooks run as in NFStream (docs/plugins.md): OnInit when a packet creates
// a flow, OnUpdate for each later packet of the flow that does not split
// it, OnExpire once when the flow expires (after the final DPI values),
// plugins in the order given. Each meter makes its own instances with
// the factories, so a plugin's state is never shared between meters.
package plugin

import (
	"fmt"

	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
)

// Plugin is one instance of a plugin, used by one meter. A non-nil error
// stops the run (the flows finished so far are written).
type Plugin interface {
	OnInit(p *Packet, f *Flow) error
	OnUpdate(p *Packet, f *Flow) error
	OnExpire(f *Flow) error
}

// Factory makes a plugin's instances, one per meter.
type Factory struct {
	// Name names the plugin in errors (a file name or a built-in's name).
	Name string
	New  func() (Plugin, error)
}

// Hook names, for errors.
const (
	HookInit   = "on_init"
	HookUpdate = "on_update"
	HookExpire = "on_expire"
)

// HookError is a plugin's failure on a flow.
type HookError struct {
	Plugin, Hook, Flow string
	Err                error
}

func (e *HookError) Error() string {
	return fmt.Sprintf("plugin %s: %s on flow %s: %v", e.Plugin, e.Hook, e.Flow, e.Err)
}

func (e *HookError) Unwrap() error { return e.Err }

// Packet is NFStream's NFPacket: the packet a hook is called for. It is
// valid only during the call.
type Packet struct {
	P *decode.Packet
	// F is the packet's flow (for the endpoint strings, which NFStream
	// takes from the flow, swapped when Direction is 1).
	F *features.Flow
	// TimeMS is the packet's time (clamped so it never goes back),
	// DeltaMS the time since the flow's previous packet (0 for the
	// first), Direction 0 src to dst, 1 dst to src.
	TimeMS, DeltaMS uint64
	Direction       uint8
}

// PacketFields are NFPacket's fields in order.
var PacketFields = []string{"time", "delta_time", "direction", "raw_size", "ip_size", "transport_size",
	"payload_size", "src_ip", "src_mac", "src_oui", "dst_ip", "dst_mac", "dst_oui", "src_port", "dst_port",
	"protocol", "vlan_id", "ip_version", "ip_packet", "syn", "cwr", "ece", "urg", "ack", "psh", "rst", "fin",
	"tunnel_id"}

// Attr returns the field name of the packet: int64, string, or []byte for
// ip_packet (the packet's bytes: do not keep them after the call).
func (p *Packet) Attr(name string) (any, bool) {
	d := p.P
	switch name {
	case "time":
		return int64(p.TimeMS), true
	case "delta_time":
		return int64(p.DeltaMS), true
	case "direction":
		return int64(p.Direction), true
	case "raw_size":
		return int64(d.RawSize), true
	case "ip_size":
		return int64(d.IPSize), true
	case "transport_size":
		return int64(d.TransportSize), true
	case "payload_size":
		return int64(d.PayloadSize), true
	case "src_ip", "dst_ip":
		a := p.F.SrcIP
		if (name == "src_ip") == (p.Direction == 1) {
			a = p.F.DstIP
		}
		return string(features.AppendIP(nil, p.F.IPVersion, a)), true
	case "src_mac", "dst_mac", "src_oui", "dst_oui":
		m := p.F.SrcMAC
		if (name[:3] == "src") == (p.Direction == 1) {
			m = p.F.DstMAC
		}
		n := 6
		if name[4:] == "oui" {
			n = 3
		}
		return macString(m[:n]), true
	case "src_port":
		return int64(d.SrcPort), true
	case "dst_port":
		return int64(d.DstPort), true
	case "protocol":
		return int64(d.Protocol), true
	case "vlan_id":
		return int64(d.VlanID), true
	case "ip_version":
		return int64(d.IPVersion), true
	case "ip_packet":
		return d.IPContent, true
	case "tunnel_id":
		return int64(d.TunnelID), true
	}
	for i, f := range flagNames {
		if f == name {
			return int64(d.Flags>>flagShift[i]) & 1, true
		}
	}
	return nil, false
}

var (
	flagNames = [8]string{"syn", "cwr", "ece", "urg", "ack", "psh", "rst", "fin"}
	flagShift = [8]uint8{1, 7, 6, 5, 4, 3, 2, 0}
)

func macString(b []byte) string {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 3*len(b))
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, hex[c>>4], hex[c&0xf])
	}
	return string(out)
}

// Flow is NFStream's NFlow as a hook sees it: every column of the run by
// name, read from the live flow during OnInit and OnUpdate and from the
// exported record in OnExpire, expiration_id (which OnInit and OnUpdate
// may set to -1 to expire the flow at once) and the udps values. It is
// valid only during the call.
type Flow struct {
	view *View
	// UDPS holds the flow's udps values.
	UDPS *features.UDPS
	// live and splt are the flow while it is metered (nil in OnExpire).
	live *features.Flow
	splt []features.SPLTEntry
	// rec is the record read from: the exported one in OnExpire, else
	// the view's scratch record, filled at the first read.
	rec    *features.Record
	synced bool
	// expiration is the flow's expiration_id during OnInit/OnUpdate.
	expiration int8
}

// View is a meter's reusable flow view and what it needs to read columns.
type View struct {
	cfg     *features.Config
	cols    []features.Column
	byName  map[string]int
	scratch features.Record
	Flow    Flow
}

// NewView returns the view a meter with features cfg and the run's
// columns cols uses for its hooks.
func NewView(cfg features.Config, cols []features.Column) *View {
	v := &View{cfg: &cfg, cols: cols, byName: make(map[string]int, len(cols))}
	for i, c := range cols {
		v.byName[c.Name] = i
	}
	if n := cfg.SPLT; n > 0 {
		v.scratch.SPLTDirection, v.scratch.SPLTPS, v.scratch.SPLTPIAT = make([]int8, n), make([]int32, n), make([]int64, n)
	}
	v.Flow.view = v
	return v
}

// Live points the view at a metered flow and its udps values.
func (v *View) Live(f *features.Flow, splt []features.SPLTEntry, u *features.UDPS) *Flow {
	v.Flow = Flow{view: v, UDPS: u, live: f, splt: splt, rec: &v.scratch}
	return &v.Flow
}

// Expired points the view at an exported record.
func (v *View) Expired(r *features.Record, u *features.UDPS) *Flow {
	v.Flow = Flow{view: v, UDPS: u, rec: r, synced: true, expiration: r.ExpirationID}
	return &v.Flow
}

// CustomExpiry reports whether a hook set expiration_id to -1.
func (f *Flow) CustomExpiry() bool { return f.live != nil && f.expiration == features.ExpiredCustom }

// SetExpirationID sets expiration_id; only -1 (expire now) has an
// effect, and only in OnInit and OnUpdate.
func (f *Flow) SetExpirationID(id int64) error {
	if id < -128 || id > 127 {
		return fmt.Errorf("expiration_id %d out of range", id)
	}
	f.expiration = int8(id)
	return nil
}

// Columns returns the names of the flow's columns, in output order.
func (f *Flow) Columns() []string {
	names := make([]string, len(f.view.cols))
	for i, c := range f.view.cols {
		names[i] = c.Name
	}
	return names
}

// Attr returns the column name of the flow as a value (int64, float64,
// string, []any of int64), and whether the flow has it. id is 0 during
// the hooks (NFStream's placeholder), as the real id is given later.
func (f *Flow) Attr(name string) (any, bool) {
	switch name {
	case "id":
		return int64(0), true
	case "expiration_id":
		return int64(f.expiration), true
	}
	i, ok := f.view.byName[name]
	if !ok {
		return nil, false
	}
	c := &f.view.cols[i]
	r := f.record()
	switch c.Kind {
	case features.KindUint:
		return int64(c.Uint(r)), true
	case features.KindInt:
		return c.Int(r), true
	case features.KindFloat:
		return c.Float(r), true
	case features.KindString:
		return string(c.String(r, nil)), true
	case features.KindList:
		n := c.ListLen(r)
		l := make([]any, n)
		for j := range l {
			l[j] = c.List(r, j)
		}
		return l, true
	}
	return nil, false
}

// record returns the record the flow's columns are read from, exporting
// the live flow into the view's scratch record at the first call.
func (f *Flow) record() *features.Record {
	if !f.synced {
		f.view.cfg.Export(f.live, f.splt, f.rec)
		f.synced = true
	}
	return f.rec
}

// Key describes a flow for errors: protocol and endpoints.
func Key(version, proto uint8, src, dst [16]byte, sport, dport uint16) string {
	return fmt.Sprintf("%s:%d -> %s:%d proto %d", features.AppendIP(nil, version, src), sport,
		features.AppendIP(nil, version, dst), dport, proto)
}

// FlowKey describes a metered flow for errors.
func FlowKey(f *features.Flow) string {
	return Key(f.IPVersion, f.Protocol, f.SrcIP, f.DstIP, f.SrcPort, f.DstPort)
}

// RecordKey describes an exported flow for errors.
func RecordKey(r *features.Record) string {
	return Key(r.IPVersion, r.Protocol, r.SrcIP, r.DstIP, r.SrcPort, r.DstPort)
}

// Finalize converts the plugins' own values of u into plain values
// (features.Exporter) and checks every value is of a supported type.
func Finalize(u *features.UDPS) error {
	for i, v := range u.Values {
		if e, ok := v.(features.Exporter); ok {
			x, err := e.ExportValue()
			if err != nil {
				return fmt.Errorf("udps.%s (set by %s): %v", u.Names[i], u.Setters[i], err)
			}
			u.Values[i] = x
			v = x
		}
		if err := check(v); err != nil {
			return fmt.Errorf("udps.%s (set by %s): %v", u.Names[i], u.Setters[i], err)
		}
	}
	return nil
}

func check(v any) error {
	switch x := v.(type) {
	case nil, int64, float64, bool, string:
		return nil
	case []any:
		for _, e := range x {
			if err := check(e); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unsupported value type %T", v)
}

// typeOf returns the value type of v.
func typeOf(v any) features.ValueType {
	switch v.(type) {
	case int64:
		return features.ValueInt
	case float64:
		return features.ValueFloat
	case bool:
		return features.ValueBool
	case string:
		return features.ValueString
	case []any:
		return features.ValueList
	}
	return features.ValueNone
}
