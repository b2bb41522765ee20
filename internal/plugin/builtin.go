package plugin

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nfstream-go/nfstream/internal/features"
)

// Builtins are the plugins written in Go, by the name --plugin takes
// (NFStream's class names are accepted too): NFStream's SPLT, FlowSlicer,
// DHCP, MDNS and JA4 (docs/plugins.md section 6).
var Builtins = map[string]func(args map[string]any) (func() (Plugin, error), error){
	"splt":        newSPLT,
	"flow_slicer": newFlowSlicer,
	"dhcp":        newDHCP,
	"ja4":         newJA4,
	"mdns":        newMDNS,
}

var builtinAliases = map[string]string{"splt": "splt", "flow_slicer": "flow_slicer", "flowslicer": "flow_slicer", "dhcp": "dhcp", "ja4": "ja4", "mdns": "mdns"}

// IsBuiltin reports whether name names a built-in plugin.
func IsBuiltin(name string) bool {
	_, ok := builtinAliases[strings.ToLower(name)]
	return ok
}

// BuiltinNames lists the built-in plugins.
func BuiltinNames() []string {
	var n []string
	for k := range Builtins {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// LoadBuiltin returns the factory of the built-in plugin name with args.
func LoadBuiltin(name string, args []Arg) (Factory, error) {
	canon, ok := builtinAliases[strings.ToLower(name)]
	if !ok {
		return Factory{}, fmt.Errorf("no built-in plugin %q (built-ins: %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	m := map[string]any{}
	for _, a := range args {
		m[a.Name] = a.Value
	}
	newFn, err := Builtins[canon](m)
	if err != nil {
		return Factory{}, fmt.Errorf("%s: %v", canon, err)
	}
	return Factory{Name: canon, New: newFn}, nil
}

// intArg takes an integer argument out of args (def when absent).
func intArg(args map[string]any, name string, def, lo, hi int64) (int64, error) {
	v, ok := args[name]
	if !ok {
		return def, nil
	}
	delete(args, name)
	i, ok := v.(int64)
	if !ok || i < lo || i > hi {
		return 0, fmt.Errorf("%s=%v: must be an integer from %d to %d", name, v, lo, hi)
	}
	return i, nil
}

func noMoreArgs(args map[string]any) error {
	for k := range args {
		return fmt.Errorf("unknown argument %s", k)
	}
	return nil
}

// Packets returns the flow's bidirectional packet count (cheaper than
// Attr("bidirectional_packets")).
func (f *Flow) Packets() uint64 {
	if f.live != nil {
		return f.live.Packets
	}
	return f.rec.Bidirectional.Packets
}

// splt is NFStream's SPLT plugin: udps.splt_direction, udps.splt_ps and
// udps.splt_piat_ms, lists of sequence_length values padded with -1; the
// first packet gives (0, its size, 0), the k-th (k <= sequence_length)
// its direction, size (accounting_mode 0-3: raw, IP, transport, payload)
// and delta_time.
type splt struct {
	n    int
	mode features.AccountingMode
}

func newSPLT(args map[string]any) (func() (Plugin, error), error) {
	n, err := intArg(args, "sequence_length", 5, 1, 65535)
	if err != nil {
		return nil, err
	}
	mode, err := intArg(args, "accounting_mode", 0, 0, 3)
	if err != nil {
		return nil, err
	}
	if err := noMoreArgs(args); err != nil {
		return nil, err
	}
	return func() (Plugin, error) { return &splt{n: int(n), mode: features.AccountingMode(mode)}, nil }, nil
}

func (s *splt) OnInit(p *Packet, f *Flow) error {
	dir, ps, piat := make([]any, s.n), make([]any, s.n), make([]any, s.n)
	for i := range dir {
		dir[i], ps[i], piat[i] = int64(-1), int64(-1), int64(-1)
	}
	dir[0], ps[0], piat[0] = int64(0), int64(s.mode.Size(p.P)), int64(0)
	f.UDPS.Set("splt_direction", dir, "splt")
	f.UDPS.Set("splt_ps", ps, "splt")
	f.UDPS.Set("splt_piat_ms", piat, "splt")
	return nil
}

func (s *splt) OnUpdate(p *Packet, f *Flow) error {
	k := f.Packets()
	if k > uint64(s.n) {
		return nil
	}
	set := func(name string, v int64) {
		if l, ok := f.UDPS.Get(name); ok {
			if l, ok := l.([]any); ok && int(k-1) < len(l) {
				l[k-1] = v
			}
		}
	}
	set("splt_direction", int64(p.Direction))
	set("splt_ps", int64(s.mode.Size(p.P)))
	set("splt_piat_ms", int64(p.DeltaMS))
	return nil
}

func (s *splt) OnExpire(*Flow) error { return nil }

// flowSlicer is NFStream's FlowSlicer: it expires a flow (expiration_id
// -1) once it has limit packets.
type flowSlicer struct{ limit uint64 }

func newFlowSlicer(args map[string]any) (func() (Plugin, error), error) {
	limit, err := intArg(args, "limit", 1, 1, 1<<62)
	if err != nil {
		return nil, err
	}
	if err := noMoreArgs(args); err != nil {
		return nil, err
	}
	return func() (Plugin, error) { return &flowSlicer{limit: uint64(limit)}, nil }, nil
}

func (s *flowSlicer) OnInit(p *Packet, f *Flow) error {
	if s.limit == 1 {
		return f.SetExpirationID(-1)
	}
	return nil
}

func (s *flowSlicer) OnUpdate(p *Packet, f *Flow) error {
	if f.Packets() == s.limit {
		return f.SetExpirationID(-1)
	}
	return nil
}

func (s *flowSlicer) OnExpire(*Flow) error { return nil }
