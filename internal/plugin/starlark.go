package plugin

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/nfstream-go/nfstream/internal/features"
)

// MaxSteps bounds the Starlark computation steps of one hook call (and of
// the script's top level), so an endless loop fails the run with a clear
// error instead of hanging it.
const MaxSteps = 10_000_000

// Arg is one keyword argument of a plugin (--plugin FILE.star:name=value):
// Value is int64, float64 or string.
type Arg struct {
	Name  string
	Value any
}

// ParseArgs parses "a=1,b=x" into arguments: a value that parses as an
// integer is an int64, else as a float a float64, else a string.
func ParseArgs(s string) ([]Arg, error) {
	if s == "" {
		return nil, nil
	}
	var args []Arg
	seen := map[string]bool{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || !IsIdentifier(k) {
			return nil, fmt.Errorf("%q: arguments are name=value pairs separated by commas", kv)
		}
		if seen[k] {
			return nil, fmt.Errorf("argument %s given twice", k)
		}
		seen[k] = true
		var val any = v
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			val = i
		} else if f, err := strconv.ParseFloat(v, 64); err == nil {
			val = f
		}
		args = append(args, Arg{k, val})
	}
	return args, nil
}

// IsIdentifier says whether s is a name of letters, digits and _ that does
// not start with a digit: an argument's, or a model's (--model NAME=FILE).
func IsIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// starFileOptions are the dialect of plugin scripts: Starlark with while
// loops, top-level control flow, global reassignment, sets and recursion
// (closer to Python).
var starFileOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}

// LoadStarlark compiles the plugin script path and runs its top level
// once, so that a script that does not load fails here (naming the file
// and line) before any output exists. Each instance runs the top level
// anew with its own self, whose attributes are args, and models, which
// reaches models as models.NAME (docs/models.md section 4).
func LoadStarlark(path string, args []Arg, models map[string]Model) (Factory, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Factory{}, err
	}
	_, prog, err := starlark.SourceProgramOptions(starFileOptions, path, src, func(n string) bool { return n == "self" || n == "models" })
	if err != nil {
		return Factory{}, err
	}
	name := path
	f := Factory{Name: name, New: func() (Plugin, error) { return newStarPlugin(name, prog, args, models) }}
	if _, err := f.New(); err != nil {
		return Factory{}, err
	}
	return f, nil
}

type starPlugin struct {
	name                    string
	thread                  *starlark.Thread
	onInit, onUpdate, onExp starlark.Callable
	pkt                     starPacket
	flow                    starFlow
	args2                   [2]starlark.Value
	args1                   [1]starlark.Value
}

func newStarPlugin(name string, prog *starlark.Program, args []Arg, models map[string]Model) (*starPlugin, error) {
	self := &starSelf{fields: map[string]starlark.Value{}}
	for _, a := range args {
		self.fields[a.Name] = toStar(a.Value)
	}
	th := &starlark.Thread{Name: name, Print: func(_ *starlark.Thread, msg string) { fmt.Fprintln(os.Stderr, msg) }}
	th.OnMaxSteps = func(t *starlark.Thread) {
		t.Cancel(fmt.Sprintf("more than %d steps in one call (an endless loop?)", MaxSteps))
	}
	th.SetMaxExecutionSteps(MaxSteps)
	g, err := prog.Init(th, starlark.StringDict{"self": self, "models": newStarModels(models)})
	if err != nil {
		return nil, starError(err)
	}
	p := &starPlugin{name: name, thread: th}
	for hook, dst := range map[string]*starlark.Callable{HookInit: &p.onInit, HookUpdate: &p.onUpdate, HookExpire: &p.onExp} {
		v, ok := g[hook]
		if !ok {
			continue
		}
		c, ok := v.(starlark.Callable)
		if !ok {
			return nil, fmt.Errorf("%s: %s is a %s, not a function", name, hook, v.Type())
		}
		*dst = c
	}
	p.flow.udps.plugin = name
	return p, nil
}

// starError gives a Starlark error with the script's position.
func starError(err error) error {
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		for i := len(ee.CallStack) - 1; i >= 0; i-- {
			fr := ee.CallStack[i]
			if fr.Pos.Filename() != "<builtin>" && fr.Pos.IsValid() {
				return fmt.Errorf("%s: %s", fr.Pos, ee.Msg)
			}
		}
		return errors.New(ee.Msg)
	}
	return err
}

func (p *starPlugin) call(fn starlark.Callable, args starlark.Tuple) error {
	p.thread.Steps = 0
	p.thread.Uncancel()
	_, err := starlark.Call(p.thread, fn, args, nil)
	if err != nil {
		return starError(err)
	}
	return nil
}

func (p *starPlugin) OnInit(pk *Packet, f *Flow) error {
	if p.onInit == nil {
		return nil
	}
	p.pkt.p, p.flow.f, p.flow.udps.u = pk, f, f.UDPS
	p.args2 = [2]starlark.Value{&p.pkt, &p.flow}
	return p.call(p.onInit, p.args2[:])
}

func (p *starPlugin) OnUpdate(pk *Packet, f *Flow) error {
	if p.onUpdate == nil {
		return nil
	}
	p.pkt.p, p.flow.f, p.flow.udps.u = pk, f, f.UDPS
	p.args2 = [2]starlark.Value{&p.pkt, &p.flow}
	return p.call(p.onUpdate, p.args2[:])
}

func (p *starPlugin) OnExpire(f *Flow) error {
	if p.onExp == nil {
		return nil
	}
	p.flow.f, p.flow.udps.u = f, f.UDPS
	p.args1 = [1]starlark.Value{&p.flow}
	return p.call(p.onExp, p.args1[:])
}

// toStar converts a plain value (or a packet's bytes) to Starlark.
func toStar(v any) starlark.Value {
	switch x := v.(type) {
	case nil:
		return starlark.None
	case int64:
		return starlark.MakeInt64(x)
	case float64:
		return starlark.Float(x)
	case bool:
		return starlark.Bool(x)
	case string:
		return starlark.String(x)
	case []byte:
		return ipBytes(append([]byte(nil), x...))
	case []any:
		l := make([]starlark.Value, len(x))
		for i, e := range x {
			l[i] = toStar(e)
		}
		return starlark.NewList(l)
	case starHeld:
		return x.v
	}
	return starlark.None
}

// fromStar converts a Starlark value to a plain value.
func fromStar(v starlark.Value) (any, error) {
	switch x := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Int:
		i, ok := x.Int64()
		if !ok {
			return nil, fmt.Errorf("int %s does not fit in 64 bits", x)
		}
		return i, nil
	case starlark.Float:
		return float64(x), nil
	case starlark.Bool:
		return bool(x), nil
	case starlark.String:
		return string(x), nil
	case starlark.Bytes:
		return string(x), nil
	case ipBytes:
		l := make([]any, len(x))
		for i, b := range x {
			l[i] = int64(b)
		}
		return l, nil
	case starlark.Indexable: // list, tuple
		if _, ok := x.(*starlark.List); !ok {
			if _, ok := x.(starlark.Tuple); !ok {
				break
			}
		}
		l := make([]any, x.Len())
		for i := range l {
			e, err := fromStar(x.Index(i))
			if err != nil {
				return nil, err
			}
			l[i] = e
		}
		return l, nil
	}
	return nil, fmt.Errorf("a udps value cannot be a %s (int, float, bool, string, None or a list of these)", v.Type())
}

// starHeld is a mutable Starlark value (a list) kept as is in a flow's
// udps while the flow is metered, so changes to it stay; it becomes a
// plain value when the flow expires.
type starHeld struct{ v starlark.Value }

func (h starHeld) ExportValue() (any, error) { return fromStar(h.v) }

// hold converts a value a script assigns to a udps name.
func hold(v starlark.Value) (any, error) {
	switch v.(type) {
	case *starlark.List, *starlark.Dict, *starlark.Set:
		return starHeld{v}, nil
	}
	return fromStar(v)
}

// starPacket is NFPacket in Starlark.
type starPacket struct{ p *Packet }

func (*starPacket) String() string        { return "NFPacket" }
func (*starPacket) Type() string          { return "NFPacket" }
func (*starPacket) Freeze()               {}
func (*starPacket) Truth() starlark.Bool  { return true }
func (*starPacket) Hash() (uint32, error) { return 0, errors.New("unhashable: NFPacket") }
func (s *starPacket) AttrNames() []string { return PacketFields }
func (s *starPacket) Attr(name string) (starlark.Value, error) {
	v, ok := s.p.Attr(name)
	if !ok {
		return nil, nil
	}
	return toStar(v), nil
}

// ipBytes is packet.ip_packet: indexing gives an int (as Python's bytes),
// slicing gives bytes.
type ipBytes []byte

func (b ipBytes) String() string {
	return starlark.Bytes(b).String()
}
func (ipBytes) Type() string            { return "bytes" }
func (ipBytes) Freeze()                 {}
func (b ipBytes) Truth() starlark.Bool  { return len(b) > 0 }
func (b ipBytes) Hash() (uint32, error) { return starlark.Bytes(b).Hash() }
func (b ipBytes) Len() int              { return len(b) }
func (b ipBytes) Index(i int) starlark.Value {
	return starlark.MakeInt(int(b[i]))
}
func (b ipBytes) Slice(start, end, step int) starlark.Value {
	if step == 1 {
		return ipBytes(b[start:end:end])
	}
	var out []byte
	for i := start; (step > 0 && i < end) || (step < 0 && i > end); i += step {
		out = append(out, b[i])
	}
	return ipBytes(out)
}
func (b ipBytes) Iterate() starlark.Iterator { return &bytesIter{b: b} }

type bytesIter struct {
	b []byte
	i int
}

func (it *bytesIter) Next(p *starlark.Value) bool {
	if it.i >= len(it.b) {
		return false
	}
	*p = starlark.MakeInt(int(it.b[it.i]))
	it.i++
	return true
}
func (it *bytesIter) Done() {}

// starFlow is NFlow in Starlark.
type starFlow struct {
	f    *Flow
	udps starUDPS
}

func (*starFlow) String() string        { return "NFlow" }
func (*starFlow) Type() string          { return "NFlow" }
func (*starFlow) Freeze()               {}
func (*starFlow) Truth() starlark.Bool  { return true }
func (*starFlow) Hash() (uint32, error) { return 0, errors.New("unhashable: NFlow") }
func (s *starFlow) AttrNames() []string {
	return append(s.f.Columns(), "udps")
}
func (s *starFlow) Attr(name string) (starlark.Value, error) {
	if name == "udps" {
		return &s.udps, nil
	}
	v, ok := s.f.Attr(name)
	if !ok {
		return nil, nil
	}
	return toStar(v), nil
}
func (s *starFlow) SetField(name string, v starlark.Value) error {
	if name != "expiration_id" {
		return fmt.Errorf("flow.%s cannot be set (only expiration_id and flow.udps.* can)", name)
	}
	i, ok := v.(starlark.Int)
	if !ok {
		return fmt.Errorf("flow.expiration_id must be an int, not %s", v.Type())
	}
	n, _ := i.Int64()
	return s.f.SetExpirationID(n)
}

// starUDPS is flow.udps: attributes set and read values; pop(name[,
// default]) removes one (Python's del flow.udps.name).
type starUDPS struct {
	u      *features.UDPS
	plugin string
}

func (*starUDPS) String() string        { return "udps" }
func (*starUDPS) Type() string          { return "udps" }
func (*starUDPS) Freeze()               {}
func (*starUDPS) Truth() starlark.Bool  { return true }
func (*starUDPS) Hash() (uint32, error) { return 0, errors.New("unhashable: udps") }
func (s *starUDPS) AttrNames() []string {
	names := append([]string{"pop"}, s.u.Names...)
	sort.Strings(names[1:])
	return names
}
func (s *starUDPS) Attr(name string) (starlark.Value, error) {
	if name == "pop" {
		return starlark.NewBuiltin("pop", s.pop), nil
	}
	v, ok := s.u.Get(name)
	if !ok {
		return nil, starlark.NoSuchAttrError(fmt.Sprintf("flow.udps has no attribute %s", name))
	}
	return toStar(v), nil
}
func (s *starUDPS) SetField(name string, v starlark.Value) error {
	if name == "pop" {
		return errors.New("flow.udps.pop is the method that removes a value: choose another name")
	}
	x, err := hold(v)
	if err != nil {
		return fmt.Errorf("flow.udps.%s: %v", name, err)
	}
	s.u.Set(name, x, s.plugin)
	return nil
}
func (s *starUDPS) pop(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var def starlark.Value
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &name, &def); err != nil {
		return nil, err
	}
	v, ok := s.u.Pop(name)
	if !ok {
		if def != nil {
			return def, nil
		}
		return nil, fmt.Errorf("pop: flow.udps has no attribute %s", name)
	}
	return toStar(v), nil
}

// starSelf is the predeclared self: the plugin's arguments and whatever
// state the script keeps on it (per meter).
type starSelf struct {
	fields map[string]starlark.Value
}

func (*starSelf) String() string        { return "self" }
func (*starSelf) Type() string          { return "self" }
func (*starSelf) Freeze()               {}
func (*starSelf) Truth() starlark.Bool  { return true }
func (*starSelf) Hash() (uint32, error) { return 0, errors.New("unhashable: self") }
func (s *starSelf) AttrNames() []string {
	names := make([]string, 0, len(s.fields))
	for n := range s.fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
func (s *starSelf) Attr(name string) (starlark.Value, error) {
	if v, ok := s.fields[name]; ok {
		return v, nil
	}
	return nil, starlark.NoSuchAttrError(fmt.Sprintf("self has no attribute %s (not a plugin argument, nor set yet)", name))
}
func (s *starSelf) SetField(name string, v starlark.Value) error {
	s.fields[name] = v
	return nil
}
