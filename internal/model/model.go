package model

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Model is a loaded tree ensemble. Its methods are safe for concurrent use.
type Model struct {
	features   []string
	nFeatures  int
	classifier bool
	labels     []any

	nodes   []node
	weights []weight
	roots   []int32 // the root node of each tree

	nScores int // score slots accumulated while walking (before the transform)
	nOut    int // len of Eval's result
	agg     aggregate
	finish  func(m *Model, out []float64) // scores (out[:nScores]) -> result (out[:nOut])

	init float64 // the scores' starting value: XGBoost's base margin, NaN for ONNX
	// ONNX
	base      []float32
	post      postTransform
	binary    bool // ONNX classifier: two labels, one class id used
	positive  bool // ONNX classifier: all class weights >= 0
	regOrigin float32
}

// node is one tree node, 16 bytes so that a forest stays small in the
// caches. A branch sends x to nodes[a] when cmp(x[feature], threshold)
// holds, else to nodes[b], and a missing value (NaN) to nodes[a] when
// missingYes; a leaf adds weights[a:b].
type node struct {
	meta      uint32 // feature (bits 0-23), mode (24-27), missingYes (28)
	threshold float32
	a, b      int32
}

// maxFeature bounds feature indexes (24 bits of node.meta).
const maxFeature = 1<<24 - 1

func branchNode(feature int32, threshold float32, mode nodeMode, missingYes bool, yes, no int32) node {
	meta := uint32(feature)&maxFeature | uint32(mode)<<24
	if missingYes {
		meta |= 1 << 28
	}
	return node{meta: meta, threshold: threshold, a: yes, b: no}
}

func leafNode(from, to int32) node { return node{meta: uint32(modeLeaf) << 24, a: from, b: to} }

func (n *node) mode() nodeMode   { return nodeMode(n.meta >> 24 & 0xf) }
func (n *node) feature() int32   { return int32(n.meta & maxFeature) }
func (n *node) missingYes() bool { return n.meta&(1<<28) != 0 }

type weight struct {
	target int32
	value  float32
}

type nodeMode uint8

const (
	modeLeaf nodeMode = iota
	modeLEQ
	modeLT
	modeGTE
	modeGT
	modeEQ
	modeNEQ
)

type aggregate uint8

const (
	aggSum aggregate = iota
	aggAverage
	aggMin
	aggMax
)

// Load reads the trained model in path: an XGBoost JSON model (.json) or
// an ONNX-ML tree ensemble (.onnx). Errors name the file and what is wrong
// with it.
func Load(path string) (*Model, error) {
	if _, err := parser(path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load of data, the contents of the file path, whose extension
// says the format and which errors name.
func Parse(path string, data []byte) (*Model, error) {
	parse, err := parser(path)
	if err != nil {
		return nil, err
	}
	m, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", path, err)
	}
	return m, nil
}

// parser returns the parser of path's format, by its extension.
func parser(path string) (func([]byte) (*Model, error), error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".json":
		return parseXGBoost, nil
	case ".onnx":
		return parseONNX, nil
	default:
		return nil, fmt.Errorf("model %q: unknown format %q (want .json for XGBoost or .onnx for ONNX-ML)", path, ext)
	}
}

// Features returns the feature names the file carries (XGBoost's
// feature_names, ONNX's metadata_props "features"), nil when it has none.
func (m *Model) Features() []string { return m.features }

// NumFeatures returns the number of inputs the model expects.
func (m *Model) NumFeatures() int { return m.nFeatures }

// IsClassifier says whether the model is a classifier.
func (m *Model) IsClassifier() bool { return m.classifier }

// Labels returns a classifier's class labels as trained (int64 or
// string), in the order of Eval's probabilities; nil for a regressor.
func (m *Model) Labels() []any { return m.labels }

// NumTrees returns the number of trees evaluated.
func (m *Model) NumTrees() int { return len(m.roots) }

// Eval evaluates the model on x (len NumFeatures, NaN = missing) and
// appends to out[:0] the probability of each label (classifiers) or the
// predicted value (regressors). It allocates only when cap(out) is too
// small. A short x counts its absent features as missing.
func (m *Model) Eval(x []float64, out []float64) []float64 {
	n := max(m.nScores, m.nOut)
	if cap(out) < n {
		out = make([]float64, n)
	}
	out = out[:n]
	// An ONNX slot holds NaN until a leaf scores it (onnxruntime's
	// has_score); XGBoost's start at the base margin, as XGBoost adds each
	// tree to it in turn.
	for i := range out[:m.nScores] {
		out[i] = m.init
	}
	for _, r := range m.roots {
		leaf := m.walk(r, x)
		for _, w := range m.weights[leaf.a:leaf.b] {
			cur := out[w.target]
			v := float64(w.value)
			switch {
			case cur != cur:
				out[w.target] = v
			case m.agg == aggSum || m.agg == aggAverage:
				out[w.target] = float64(float32(cur) + w.value)
			case m.agg == aggMin:
				if v < cur {
					out[w.target] = v
				}
			case m.agg == aggMax:
				if v > cur {
					out[w.target] = v
				}
			}
		}
	}
	m.finish(m, out)
	return out[:m.nOut]
}

func (m *Model) walk(r int32, x []float64) *node {
	n := &m.nodes[r]
	for {
		mode := n.mode()
		if mode == modeLeaf {
			return n
		}
		v := math.NaN()
		if fi := int(n.meta & maxFeature); fi < len(x) {
			v = x[fi]
		}
		f := float32(v)
		var yes bool
		if f != f {
			yes = n.missingYes() || mode == modeNEQ
		} else {
			switch mode {
			case modeLEQ:
				yes = f <= n.threshold
			case modeLT:
				yes = f < n.threshold
			case modeGTE:
				yes = f >= n.threshold
			case modeGT:
				yes = f > n.threshold
			case modeEQ:
				yes = f == n.threshold
			case modeNEQ:
				yes = f != n.threshold
			}
		}
		if yes {
			n = &m.nodes[n.a]
		} else {
			n = &m.nodes[n.b]
		}
	}
}

// Predict evaluates x into scratch and returns, for a classifier, the
// label of the highest probability (the first one on ties, as numpy's
// argmax) and that probability; for a regressor the value (float64) and
// NaN. out is Eval's result.
func (m *Model) Predict(x []float64, scratch []float64) (label any, prob float64, out []float64) {
	out = m.Eval(x, scratch)
	if !m.classifier {
		return out[0], math.NaN(), out
	}
	best := 0
	for i, p := range out {
		if p > out[best] || (out[best] != out[best] && p == p) {
			best = i
		}
	}
	return m.labels[best], out[best], out
}

// checkTrees verifies that every tree reachable from the roots is a tree:
// children and features in range, no node reached twice (so no cycles), and
// leaves' weights in range.
func (m *Model) checkTrees(nFeatures int) error {
	_, err := m.reachable(nFeatures)
	return err
}

// reachable is checkTrees, returning which nodes the roots reach.
func (m *Model) reachable(nFeatures int) ([]bool, error) {
	seen := make([]bool, len(m.nodes))
	var stack []int32
	for t, r := range m.roots {
		stack = append(stack[:0], r)
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if i < 0 || int(i) >= len(m.nodes) {
				return nil, fmt.Errorf("tree %d: child %d out of range (%d nodes)", t, i, len(m.nodes))
			}
			if seen[i] {
				return nil, fmt.Errorf("tree %d: node reached twice (not a tree)", t)
			}
			seen[i] = true
			n := &m.nodes[i]
			if n.mode() == modeLeaf {
				if n.a < 0 || n.b < n.a || int(n.b) > len(m.weights) {
					return nil, fmt.Errorf("tree %d: leaf weights out of range", t)
				}
				for _, w := range m.weights[n.a:n.b] {
					if w.target < 0 || int(w.target) >= m.nScores {
						return nil, fmt.Errorf("tree %d: leaf weight for output %d of %d", t, w.target, m.nScores)
					}
				}
				continue
			}
			if int(n.feature()) >= nFeatures {
				return nil, fmt.Errorf("tree %d: split on feature %d of %d", t, n.feature(), nFeatures)
			}
			stack = append(stack, n.a, n.b)
		}
	}
	return seen, nil
}

// sigmoid32 is 1/(1+exp(-x)) in float32, as XGBoost computes it.
func sigmoid32(x float32) float32 {
	return float32(1 / (1 + math.Exp(-float64(x))))
}

// softmax replaces v with its softmax (max subtracted first), rounding to
// float32 as the float32 implementations of XGBoost and onnxruntime do.
func softmax32(v []float64) {
	mx := math.Inf(-1)
	for _, s := range v {
		mx = max(mx, s)
	}
	var sum float32
	for i, s := range v {
		e := float32(math.Exp(float64(float32(s - mx))))
		v[i] = float64(e)
		sum += e
	}
	for i := range v {
		v[i] = float64(float32(v[i]) / sum)
	}
}
