package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The subset of XGBoost's JSON model (Booster.save_model("m.json"), schema
// of XGBoost 1.7, doc/model.schema in XGBoost's repository) that prediction
// needs.
type xgbFile struct {
	Learner *struct {
		Attributes struct {
			BestIteration *string `json:"best_iteration"`
		} `json:"attributes"`
		FeatureNames     []string        `json:"feature_names"`
		GradientBooster  json.RawMessage `json:"gradient_booster"`
		LearnerModelParm struct {
			BaseScore  string `json:"base_score"`
			NumClass   string `json:"num_class"`
			NumFeature string `json:"num_feature"`
		} `json:"learner_model_param"`
		Objective struct {
			Name string `json:"name"`
		} `json:"objective"`
	} `json:"learner"`
}

type xgbBooster struct {
	Name       string          `json:"name"`
	Model      *xgbTrees       `json:"model"`       // gbtree
	GBTree     json.RawMessage `json:"gbtree"`      // dart: the gbtree inside
	WeightDrop []float64       `json:"weight_drop"` // dart
}

type xgbTrees struct {
	Param struct {
		NumParallelTree string `json:"num_parallel_tree"`
		NumTrees        string `json:"num_trees"`
	} `json:"gbtree_model_param"`
	TreeInfo []int64   `json:"tree_info"`
	Trees    []xgbTree `json:"trees"`
}

type xgbTree struct {
	Left        []int64   `json:"left_children"`
	Right       []int64   `json:"right_children"`
	SplitIndex  []int64   `json:"split_indices"`
	SplitCond   []float64 `json:"split_conditions"`
	DefaultLeft []flag    `json:"default_left"`
	SplitType   []int64   `json:"split_type"`
}

// flag is XGBoost's default_left entry: 0/1 in 1.7, true/false elsewhere.
type flag bool

func (f *flag) UnmarshalJSON(b []byte) error {
	switch s := string(bytes.TrimSpace(b)); s {
	case "1", "true":
		*f = true
	case "0", "false":
		*f = false
	default:
		return fmt.Errorf("default_left entry %s is not 0, 1, true or false", s)
	}
	return nil
}

// xgbNumber parses one of XGBoost's numbers written as strings ("5E-1";
// later versions write "[5E-1]").
func xgbNumber(field, s string) (float64, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "["), "]")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("xgboost: %s %q is not a number", field, s)
	}
	return v, nil
}

func xgbCount(field, s string, dflt int) (int, error) {
	if s == "" {
		return dflt, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > 1<<24 {
		return 0, fmt.Errorf("xgboost: %s %q is not a count", field, s)
	}
	return v, nil
}

// maxClasses bounds num_class, so that a corrupt count cannot make Load
// allocate gigabytes.
const maxClasses = 1 << 16

func parseXGBoost(data []byte) (*Model, error) {
	var f xgbFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("xgboost: not a JSON model: %w", err)
	}
	l := f.Learner
	if l == nil {
		return nil, fmt.Errorf("xgboost: no \"learner\" object (not a Booster.save_model JSON file)")
	}
	m := &Model{agg: aggSum}
	nFeat, err := xgbCount("num_feature", l.LearnerModelParm.NumFeature, -1)
	if err != nil {
		return nil, err
	}
	if nFeat < 0 {
		return nil, fmt.Errorf("xgboost: learner_model_param.num_feature missing")
	}
	m.nFeatures = nFeat
	if len(l.FeatureNames) > 0 {
		if len(l.FeatureNames) != nFeat {
			return nil, fmt.Errorf("xgboost: %d feature_names for num_feature %d", len(l.FeatureNames), nFeat)
		}
		m.features = l.FeatureNames
	}
	nClass, err := xgbCount("num_class", l.LearnerModelParm.NumClass, 0)
	if err != nil {
		return nil, err
	}
	base, err := xgbNumber("base_score", l.LearnerModelParm.BaseScore)
	if err != nil {
		return nil, err
	}
	groups := 1
	switch l.Objective.Name {
	case "binary:logistic":
		// base_score is a probability; the trees add to its logit.
		if !(base > 0 && base < 1) {
			return nil, fmt.Errorf("xgboost: base_score %v of binary:logistic is not in (0, 1)", base)
		}
		m.init = float64(float32(-math.Log(1/base - 1)))
		m.classifier = true
		m.labels = []any{int64(0), int64(1)}
		m.nScores, m.nOut = 1, 2
		m.finish = finishXGBLogistic
	case "multi:softprob", "multi:softmax":
		if nClass < 2 || nClass > maxClasses {
			return nil, fmt.Errorf("xgboost: %s with num_class %d (want 2 to %d)", l.Objective.Name, nClass, maxClasses)
		}
		groups = nClass
		m.init = float64(float32(base))
		m.classifier = true
		for i := range nClass {
			m.labels = append(m.labels, int64(i))
		}
		m.nScores, m.nOut = nClass, nClass
		m.finish = finishXGBSoftmax
	case "reg:squarederror":
		m.init = float64(float32(base))
		m.nScores, m.nOut = 1, 1
		m.finish = finishXGBIdentity
	default:
		return nil, fmt.Errorf("xgboost: objective %q not supported (binary:logistic, multi:softprob, multi:softmax, reg:squarederror are)", l.Objective.Name)
	}

	var gb xgbBooster
	if err := json.Unmarshal(l.GradientBooster, &gb); err != nil {
		return nil, fmt.Errorf("xgboost: gradient_booster: %w", err)
	}
	var scale []float64
	switch gb.Name {
	case "gbtree":
	case "dart":
		var inner xgbBooster
		if err := json.Unmarshal(gb.GBTree, &inner); err != nil || inner.Model == nil {
			return nil, fmt.Errorf("xgboost: dart booster without its gbtree model")
		}
		gb.Model = inner.Model
		scale = gb.WeightDrop
	default:
		return nil, fmt.Errorf("xgboost: booster %q not supported (gbtree and dart are)", gb.Name)
	}
	tm := gb.Model
	if tm == nil {
		return nil, fmt.Errorf("xgboost: gradient_booster has no model")
	}
	nTrees := len(tm.Trees)
	if n, err := xgbCount("num_trees", tm.Param.NumTrees, nTrees); err != nil {
		return nil, err
	} else if n != nTrees || len(tm.TreeInfo) != nTrees {
		return nil, fmt.Errorf("xgboost: num_trees %d, %d trees and %d tree_info entries disagree", n, nTrees, len(tm.TreeInfo))
	}
	if scale != nil && len(scale) != nTrees {
		return nil, fmt.Errorf("xgboost: dart has %d weight_drop entries for %d trees", len(scale), nTrees)
	}
	parallel, err := xgbCount("num_parallel_tree", tm.Param.NumParallelTree, 1)
	if err != nil {
		return nil, err
	}
	parallel = max(parallel, 1)
	// XGBClassifier.predict and predict_proba use the trees up to
	// best_iteration when the model has one (docs/models.md).
	use := nTrees
	if bi := l.Attributes.BestIteration; bi != nil {
		it, err := strconv.Atoi(*bi)
		if err != nil || it < 0 {
			return nil, fmt.Errorf("xgboost: best_iteration %q is not an iteration", *bi)
		}
		if it < nTrees { // (it+1)*parallel*groups cannot overflow
			use = min(nTrees, (it+1)*parallel*groups)
		}
	}
	for t, tr := range tm.Trees[:use] {
		g := tm.TreeInfo[t]
		if g < 0 || int(g) >= groups {
			return nil, fmt.Errorf("xgboost: tree %d: tree_info %d for %d output groups", t, g, groups)
		}
		s := float32(1)
		if scale != nil {
			s = float32(scale[t])
		}
		if err := m.addXGBTree(t, tr, int32(g), s); err != nil {
			return nil, err
		}
	}
	if err := m.checkTrees(nFeat); err != nil {
		return nil, fmt.Errorf("xgboost: %w", err)
	}
	return m, nil
}

func (m *Model) addXGBTree(t int, tr xgbTree, group int32, scale float32) error {
	n := len(tr.Left)
	if n == 0 {
		return fmt.Errorf("xgboost: tree %d has no nodes", t)
	}
	if len(tr.Right) != n || len(tr.SplitIndex) != n || len(tr.SplitCond) != n || len(tr.DefaultLeft) != n {
		return fmt.Errorf("xgboost: tree %d: node arrays of different lengths (left_children %d, right_children %d, split_indices %d, split_conditions %d, default_left %d)",
			t, n, len(tr.Right), len(tr.SplitIndex), len(tr.SplitCond), len(tr.DefaultLeft))
	}
	off := int32(len(m.nodes))
	m.roots = append(m.roots, off)
	for i := range n {
		if i < len(tr.SplitType) && tr.SplitType[i] != 0 {
			return fmt.Errorf("xgboost: tree %d node %d: categorical split not supported", t, i)
		}
		if tr.Left[i] == -1 {
			if tr.Right[i] != -1 {
				return fmt.Errorf("xgboost: tree %d node %d: only one child", t, i)
			}
			// A leaf's value is in split_conditions.
			m.nodes = append(m.nodes, leafNode(int32(len(m.weights)), int32(len(m.weights)+1)))
			m.weights = append(m.weights, weight{target: group, value: float32(tr.SplitCond[i]) * scale})
			continue
		}
		l, r := tr.Left[i], tr.Right[i]
		if l <= 0 || r <= 0 || l >= int64(n) || r >= int64(n) {
			return fmt.Errorf("xgboost: tree %d node %d: children %d, %d out of range (%d nodes)", t, i, l, r, n)
		}
		f := tr.SplitIndex[i]
		if f < 0 || f > maxFeature {
			return fmt.Errorf("xgboost: tree %d node %d: split index %d", t, i, f)
		}
		m.nodes = append(m.nodes, branchNode(int32(f), float32(tr.SplitCond[i]), modeLT,
			bool(tr.DefaultLeft[i]), off+int32(l), off+int32(r)))
	}
	return nil
}

func finishXGBLogistic(m *Model, out []float64) {
	p := sigmoid32(float32(out[0]))
	out[0], out[1] = float64(1-p), float64(p)
}

func finishXGBSoftmax(m *Model, out []float64) {
	softmax32(out[:m.nScores])
}

func finishXGBIdentity(m *Model, out []float64) {}
