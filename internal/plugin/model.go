package plugin

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/nfstream-go/nfstream/internal/features"
)

// Model is a trained model as plugins use it (internal/model's Model): it
// evaluates a vector of feature values in its feature order, NaN meaning
// missing. Eval and Predict are safe for concurrent use.
type Model interface {
	// Features returns the feature names the model file carries (nil
	// when it carries none).
	Features() []string
	NumFeatures() int
	IsClassifier() bool
	// Labels returns a classifier's labels (int64 or string) in the
	// order of its probabilities.
	Labels() []any
	// Eval returns the class probabilities (classifiers) or [value]
	// (regressors) of x, in out when it is large enough.
	Eval(x, out []float64) []float64
	// Predict returns the predicted label and its probability
	// (classifiers) or the value and NaN (regressors).
	Predict(x, scratch []float64) (label any, prob float64, out []float64)
}

// ModelConfig is one --model: a model deployed as a plugin that sets
// udps.NAME_prediction and, for classifiers, udps.NAME_probability on
// every flow (docs/models.md).
type ModelConfig struct {
	// Name is the model's name (an identifier), File its file (for
	// errors).
	Name, File string
	Model      Model
	// Features are the model's inputs as column names (docs/models.md
	// section 1); nil takes those the model carries.
	Features []string
	// At, when not 0, predicts when the flow reaches At packets (early
	// classification) instead of at expiry, and adds
	// udps.NAME_prediction_packets.
	At uint64
}

// RunColumns says which columns a run has, for checking model features:
// the columns of Schema, SPLT the --splt length.
type RunColumns struct {
	Schema features.Schema
	SPLT   int
}

// feature reads one model input from a record: a numeric column, or
// element Elem of a SPLT list column.
type feature struct {
	col  features.Column
	elem int
}

func (f *feature) value(r *features.Record) float64 {
	c := &f.col
	switch c.Kind {
	case features.KindUint:
		return float64(c.Uint(r))
	case features.KindInt:
		return float64(c.Int(r))
	case features.KindFloat:
		return c.Float(r)
	case features.KindList:
		if f.elem < c.ListLen(r) {
			return float64(c.List(r, f.elem))
		}
		return -1
	}
	return math.NaN()
}

// spltLists are the SPLT list columns, which model features name by
// element: splt_ps_3 is element 3 (from 0) of splt_ps.
var spltLists = []string{"splt_direction", "splt_ps", "splt_piat_ms"}

// resolveFeature finds the column of the model input name in a run with
// columns run, or says why it cannot be one (and which flag it needs).
func resolveFeature(name string, run RunColumns, early bool) (feature, error) {
	if name == "id" {
		return feature{}, fmt.Errorf("feature id: the flow id is given when the flow is written, it is not a feature")
	}
	cols := run.Schema.Columns()
	for _, l := range spltLists {
		if name == l {
			return feature{}, fmt.Errorf("feature %s is a list: name one element, %s_0 to %s_%d", name, l, l, max(run.SPLT, 1)-1)
		}
		rest, ok := strings.CutPrefix(name, l+"_")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(rest)
		if err != nil || i < 0 || strconv.Itoa(i) != rest {
			break
		}
		if i >= run.SPLT {
			if run.SPLT == 0 {
				return feature{}, fmt.Errorf("feature %s needs --splt %d or more (SPLT is off)", name, i+1)
			}
			return feature{}, fmt.Errorf("feature %s needs --splt %d or more (--splt is %d)", name, i+1, run.SPLT)
		}
		for _, c := range cols {
			if c.Name == l {
				return feature{col: c, elem: i}, nil
			}
		}
	}
	for _, c := range cols {
		if c.Name != name {
			continue
		}
		if c.AfterPlugins {
			return feature{}, afterPlugins(name)
		}
		switch c.Kind {
		case features.KindUint, features.KindInt, features.KindFloat:
		default:
			return feature{}, fmt.Errorf("feature %s is a text column: only numeric columns can be features", name)
		}
		if early && isL7(name) {
			return feature{}, fmt.Errorf("feature %s is an L7 column, whose value is known only at expiry: it cannot be used with --model-at", name)
		}
		return feature{col: c}, nil
	}
	// Not a column of this run: say which flag would make it one.
	full := features.Schema{Tunnel: true, Stats: true, SPLT: true, L7: true, System: features.SystemFull}.Columns()
	for _, c := range full {
		if c.Name != name {
			continue
		}
		switch {
		case c.AfterPlugins:
			return feature{}, afterPlugins(name)
		case c.Kind == features.KindString:
			return feature{}, fmt.Errorf("feature %s is a text column: only numeric columns can be features", name)
		case name == "tunnel_id":
			return feature{}, fmt.Errorf("feature %s needs --decode-tunnels", name)
		case isL7(name):
			return feature{}, fmt.Errorf("feature %s needs dissection (--n-dissections more than 0)", name)
		default:
			return feature{}, fmt.Errorf("feature %s needs --stats", name)
		}
	}
	return feature{}, fmt.Errorf("feature %s is not a column of nfstream's output (see docs/models.md section 1)", name)
}

func isL7(name string) bool { return strings.HasPrefix(name, "application_") }

// afterPlugins refuses a column set after the plugins and models run
// (features.Column.AfterPlugins: the system visibility columns).
func afterPlugins(name string) error {
	return fmt.Errorf("feature %s: the system visibility columns are set after the plugins and models run, they cannot be features", name)
}

// modelDef is what a model's instances share.
type modelDef struct {
	cfg                        ModelConfig
	feats                      []feature
	pred, prob, atPkts, setter string
	classifier                 bool
	nOut                       int
}

// NewModel checks c against the columns of the run and returns the
// factory of its plugin. Errors name the model and the feature.
func NewModel(c ModelConfig, run RunColumns) (Factory, error) {
	names := c.Features
	if names == nil {
		names = c.Model.Features()
		if names == nil {
			return Factory{}, fmt.Errorf("model %s (%s) carries no feature names: give them with --model-features %s=col1,col2,... (%d names), or use it from a --plugin script only",
				c.Name, c.File, c.Name, c.Model.NumFeatures())
		}
	}
	if len(names) != c.Model.NumFeatures() {
		return Factory{}, fmt.Errorf("model %s (%s) has %d features, %d names given", c.Name, c.File, c.Model.NumFeatures(), len(names))
	}
	d := &modelDef{cfg: c, pred: c.Name + "_prediction", setter: "model " + c.Name, classifier: c.Model.IsClassifier()}
	if d.classifier {
		d.prob = c.Name + "_probability"
		d.nOut = len(c.Model.Labels())
	} else {
		d.nOut = 1
	}
	if c.At > 0 {
		d.atPkts = c.Name + "_prediction_packets"
	}
	for _, n := range names {
		f, err := resolveFeature(n, run, c.At > 0)
		if err != nil {
			return Factory{}, fmt.Errorf("model %s: %v", c.Name, err)
		}
		d.feats = append(d.feats, f)
	}
	return Factory{Name: "model " + c.Name, New: func() (Plugin, error) {
		return &modelPlugin{d: d, x: make([]float64, len(d.feats)), out: make([]float64, d.nOut)}, nil
	}}, nil
}

// modelPlugin is a model's instance in one meter: its buffers are its
// own, so predicting allocates nothing but the udps values.
type modelPlugin struct {
	d      *modelDef
	x, out []float64
}

// predict evaluates the model on r and sets the udps values.
func (p *modelPlugin) predict(r *features.Record, f *Flow, packets uint64) {
	d := p.d
	for i := range d.feats {
		p.x[i] = d.feats[i].value(r)
	}
	label, prob, out := d.cfg.Model.Predict(p.x, p.out)
	p.out = out
	setter := d.setter
	f.UDPS.Set(d.pred, label, setter)
	if d.classifier {
		f.UDPS.Set(d.prob, prob, setter)
	}
	if d.atPkts != "" {
		f.UDPS.Set(d.atPkts, int64(packets), setter)
	}
}

// OnInit declares the model's columns (so every flow has them in the same
// order) and predicts when At is 1.
func (p *modelPlugin) OnInit(_ *Packet, f *Flow) error {
	d := p.d
	setter := d.setter
	reserve(f.UDPS, 3)
	f.UDPS.Set(d.pred, nil, setter)
	if d.classifier {
		f.UDPS.Set(d.prob, nil, setter)
	}
	if d.atPkts != "" {
		f.UDPS.Set(d.atPkts, nil, setter)
		if d.cfg.At == 1 {
			p.predict(f.record(), f, 1)
		}
	}
	return nil
}

// OnUpdate predicts from the live flow when it reaches At packets.
func (p *modelPlugin) OnUpdate(_ *Packet, f *Flow) error {
	if at := p.d.cfg.At; at > 1 && f.Packets() == at {
		p.predict(f.record(), f, at)
	}
	return nil
}

// OnExpire predicts from the exported flow, unless an early verdict was
// made.
func (p *modelPlugin) OnExpire(f *Flow) error {
	d := p.d
	if d.atPkts != "" {
		if v, ok := f.UDPS.Get(d.atPkts); ok && v != nil {
			return nil
		}
	}
	p.predict(f.rec, f, f.rec.Bidirectional.Packets)
	return nil
}

// reserve makes room in u for n more values, so that setting them
// allocates three slices at most instead of growing each twice.
func reserve(u *features.UDPS, n int) {
	if len(u.Names)+n <= cap(u.Names) {
		return
	}
	c := len(u.Names) + n
	if len(u.Names) == 0 {
		c += 2 // and for a plugin's first values
	}
	u.Names = append(make([]string, 0, c), u.Names...)
	u.Values = append(make([]any, 0, c), u.Values...)
	u.Setters = append(make([]string, 0, c), u.Setters...)
}
