package plugin

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"go.starlark.net/starlark"
)

// starModels is the predeclared models of a plugin script: models.NAME is
// the model given with --model NAME=FILE (docs/models.md section 4).
type starModels struct {
	m     map[string]*starModel
	names []string
}

func newStarModels(models map[string]Model) *starModels {
	s := &starModels{m: map[string]*starModel{}}
	for n, m := range models {
		s.m[n] = &starModel{name: n, m: m, x: make([]float64, m.NumFeatures())}
		s.names = append(s.names, n)
	}
	sort.Strings(s.names)
	return s
}

func (*starModels) String() string        { return "models" }
func (*starModels) Type() string          { return "models" }
func (*starModels) Freeze()               {}
func (*starModels) Truth() starlark.Bool  { return true }
func (*starModels) Hash() (uint32, error) { return 0, errors.New("unhashable: models") }
func (s *starModels) AttrNames() []string { return s.names }
func (s *starModels) Attr(name string) (starlark.Value, error) {
	if m, ok := s.m[name]; ok {
		return m, nil
	}
	if len(s.names) == 0 {
		return nil, starlark.NoSuchAttrError(fmt.Sprintf("no model %s: none was given (--model %s=FILE)", name, name))
	}
	return nil, starlark.NoSuchAttrError(fmt.Sprintf("no model %s (models: %s)", name, strings.Join(s.names, ", ")))
}

// starModel is models.NAME: predict(values), predict_proba(values), and
// the attributes features (names, or None) and labels (a classifier's,
// in the order of predict_proba; None for a regressor). Each plugin
// instance (one per meter) has its own, so its buffers are not shared.
type starModel struct {
	name   string
	m      Model
	x, out []float64
}

func (s *starModel) String() string      { return "model " + s.name }
func (*starModel) Type() string          { return "model" }
func (*starModel) Freeze()               {}
func (*starModel) Truth() starlark.Bool  { return true }
func (*starModel) Hash() (uint32, error) { return 0, errors.New("unhashable: model") }
func (*starModel) AttrNames() []string {
	return []string{"features", "labels", "predict", "predict_proba"}
}
func (s *starModel) Attr(name string) (starlark.Value, error) {
	switch name {
	case "predict", "predict_proba":
		return starlark.NewBuiltin(name, s.call), nil
	case "features":
		f := s.m.Features()
		if f == nil {
			return starlark.None, nil
		}
		l := make([]starlark.Value, len(f))
		for i, n := range f {
			l[i] = starlark.String(n)
		}
		return starlark.NewList(l), nil
	case "labels":
		if !s.m.IsClassifier() {
			return starlark.None, nil
		}
		labels := s.m.Labels()
		l := make([]starlark.Value, len(labels))
		for i, v := range labels {
			l[i] = toStar(v)
		}
		return starlark.NewList(l), nil
	}
	return nil, nil
}

// call is predict and predict_proba: values is a list or tuple of numbers
// (None for a missing value) in the model's feature order.
func (s *starModel) call(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var values starlark.Indexable
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &values); err != nil {
		return nil, err
	}
	if values.Len() != len(s.x) {
		return nil, fmt.Errorf("models.%s.%s: %d values, the model has %d features", s.name, b.Name(), values.Len(), len(s.x))
	}
	for i := range s.x {
		switch v := values.Index(i).(type) {
		case starlark.Int:
			f, _ := starlark.AsFloat(v)
			s.x[i] = f
		case starlark.Float:
			s.x[i] = float64(v)
		case starlark.Bool:
			s.x[i] = 0
			if v {
				s.x[i] = 1
			}
		case starlark.NoneType:
			s.x[i] = math.NaN()
		default:
			return nil, fmt.Errorf("models.%s.%s: value %d is a %s, not a number", s.name, b.Name(), i, v.Type())
		}
	}
	if b.Name() == "predict" {
		label, _, out := s.m.Predict(s.x, s.out)
		s.out = out
		return toStar(label), nil
	}
	if !s.m.IsClassifier() {
		return nil, fmt.Errorf("models.%s.predict_proba: the model is a regressor (use predict)", s.name)
	}
	s.out = s.m.Eval(s.x, s.out)
	l := make([]starlark.Value, len(s.out))
	for i, p := range s.out {
		l[i] = starlark.Float(p)
	}
	return starlark.NewList(l), nil
}
