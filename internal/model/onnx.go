package model

import (
	"fmt"
	"math"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto)
// for the messages read here; other fields are skipped.
const (
	modelGraph         = 7  // ModelProto.graph
	modelMetadataProps = 14 // ModelProto.metadata_props (StringStringEntryProto: key 1, value 2)

	graphNode        = 1  // GraphProto.node
	graphInitializer = 5  // GraphProto.initializer (TensorProto, name 8)
	graphInput       = 11 // GraphProto.input (ValueInfoProto)

	nodeInput     = 1 // NodeProto.input
	nodeOutput    = 2 // NodeProto.output
	nodeOpType    = 4 // NodeProto.op_type
	nodeAttribute = 5 // NodeProto.attribute
	nodeDomain    = 7 // NodeProto.domain

	attrName    = 1 // AttributeProto.name
	attrI       = 3
	attrS       = 4
	attrT       = 5
	attrFloats  = 7
	attrInts    = 8
	attrStrings = 9

	valueInfoName = 1 // ValueInfoProto.name
	valueInfoType = 2 // ValueInfoProto.type (TypeProto: tensor_type 1 (elem_type 1, shape 2 (dim 1 (dim_value 1))))
)

// ONNX TensorProto.DataType values used here.
const (
	onnxFloat  = 1
	onnxInt64  = 7
	onnxDouble = 11
)

type postTransform uint8

const (
	postNone postTransform = iota
	postLogistic
	postSoftmax
	postSoftmaxZero
	postProbit
)

var postTransforms = map[string]postTransform{
	"NONE": postNone, "LOGISTIC": postLogistic, "SOFTMAX": postSoftmax,
	"SOFTMAX_ZERO": postSoftmaxZero, "PROBIT": postProbit,
}

var nodeModes = map[string]nodeMode{
	"LEAF": modeLeaf, "BRANCH_LEQ": modeLEQ, "BRANCH_LT": modeLT, "BRANCH_GTE": modeGTE,
	"BRANCH_GT": modeGT, "BRANCH_EQ": modeEQ, "BRANCH_NEQ": modeNEQ,
}

var aggregates = map[string]aggregate{"SUM": aggSum, "AVERAGE": aggAverage, "MIN": aggMin, "MAX": aggMax}

// onnxNode is a NodeProto with its attributes.
type onnxNode struct {
	opType, domain  string
	inputs, outputs []string
	attrs           map[string]*onnxAttr
	attrOrder       []string
}

type onnxAttr struct {
	i       int64
	s       string
	floats  []float32
	ints    []int64
	strings []string
	tensor  bool
}

type onnxValue struct {
	name     string
	elemType int64
	dims     []int64 // -1 for a symbolic or absent dimension
}

// pbFields calls fn for each field of the protobuf message b: v is the
// payload of a length-delimited field, u the value of the others.
func pbFields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, u uint64) error) error {
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return fmt.Errorf("malformed protobuf at byte %d: %w", off, protowire.ParseError(n))
		}
		off += n
		var v []byte
		var u uint64
		switch typ {
		case protowire.VarintType:
			u, n = protowire.ConsumeVarint(b[off:])
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b[off:])
			u = uint64(x)
		case protowire.Fixed64Type:
			u, n = protowire.ConsumeFixed64(b[off:])
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b[off:])
		default:
			n = protowire.ConsumeFieldValue(num, typ, b[off:])
		}
		if n < 0 {
			return fmt.Errorf("malformed protobuf at byte %d (field %d): %w", off, num, protowire.ParseError(n))
		}
		off += n
		if err := fn(num, typ, v, u); err != nil {
			return err
		}
	}
	return nil
}

func parseONNX(data []byte) (*Model, error) {
	var graph []byte
	meta := map[string]string{}
	err := pbFields(data, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == modelGraph && typ == protowire.BytesType:
			graph = v
		case num == modelMetadataProps && typ == protowire.BytesType:
			var k, val string
			if err := pbFields(v, func(n protowire.Number, t protowire.Type, b []byte, _ uint64) error {
				if t == protowire.BytesType && n == 1 {
					k = string(b)
				} else if t == protowire.BytesType && n == 2 {
					val = string(b)
				}
				return nil
			}); err != nil {
				return err
			}
			meta[k] = val
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("onnx: not an ONNX model (truncated?): %w", err)
	}
	if graph == nil {
		return nil, fmt.Errorf("onnx: no graph (not an ONNX model, or truncated)")
	}
	var nodes []*onnxNode
	var inputs []onnxValue
	inits := map[string]bool{}
	err = pbFields(graph, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case graphNode:
			n, err := parseNode(v)
			if err != nil {
				return err
			}
			nodes = append(nodes, n)
		case graphInput:
			in, err := parseValueInfo(v)
			if err != nil {
				return err
			}
			inputs = append(inputs, in)
		case graphInitializer:
			return pbFields(v, func(n protowire.Number, t protowire.Type, b []byte, _ uint64) error {
				if n == 8 && t == protowire.BytesType {
					inits[string(b)] = true
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("onnx: graph: %w", err)
	}
	var in *onnxValue
	for i := range inputs {
		if inits[inputs[i].name] {
			continue
		}
		if in != nil {
			return nil, fmt.Errorf("onnx: graph has several inputs (%q, %q); a tree ensemble takes one feature tensor", in.name, inputs[i].name)
		}
		in = &inputs[i]
	}
	if in == nil {
		return nil, fmt.Errorf("onnx: graph has no input")
	}
	m, err := onnxGraph(nodes, in)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	if f, ok := meta["features"]; ok {
		names := strings.Split(f, ",")
		for i := range names {
			names[i] = strings.TrimSpace(names[i])
			if names[i] == "" {
				return nil, fmt.Errorf("onnx: metadata_props features %q has an empty name", f)
			}
		}
		if len(names) < m.nFeatures || (in.dims != nil && len(in.dims) == 2 && in.dims[1] >= 0 && len(names) != m.nFeatures) {
			return nil, fmt.Errorf("onnx: metadata_props features names %d features, the model takes %d", len(names), m.nFeatures)
		}
		m.features, m.nFeatures = names, len(names)
	}
	return m, nil
}

func parseNode(b []byte) (*onnxNode, error) {
	n := &onnxNode{attrs: map[string]*onnxAttr{}}
	err := pbFields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case nodeInput:
			n.inputs = append(n.inputs, string(v))
		case nodeOutput:
			n.outputs = append(n.outputs, string(v))
		case nodeOpType:
			n.opType = string(v)
		case nodeDomain:
			n.domain = string(v)
		case nodeAttribute:
			name, a, err := parseAttr(v)
			if err != nil {
				return err
			}
			n.attrs[name] = a
			n.attrOrder = append(n.attrOrder, name)
		}
		return nil
	})
	return n, err
}

func parseAttr(b []byte) (string, *onnxAttr, error) {
	a := &onnxAttr{}
	var name string
	err := pbFields(b, func(num protowire.Number, typ protowire.Type, v []byte, u uint64) error {
		switch {
		case num == attrName && typ == protowire.BytesType:
			name = string(v)
		case num == attrI && typ == protowire.VarintType:
			a.i = int64(u)
		case num == attrS && typ == protowire.BytesType:
			a.s = string(v)
		case num == attrT && typ == protowire.BytesType:
			a.tensor = true
		case num == attrFloats && typ == protowire.Fixed32Type:
			a.floats = append(a.floats, math.Float32frombits(uint32(u)))
		case num == attrFloats && typ == protowire.BytesType:
			if len(v)%4 != 0 {
				return fmt.Errorf("packed floats of %d bytes", len(v))
			}
			for len(v) > 0 {
				x, _ := protowire.ConsumeFixed32(v)
				a.floats = append(a.floats, math.Float32frombits(x))
				v = v[4:]
			}
		case num == attrInts && typ == protowire.VarintType:
			a.ints = append(a.ints, int64(u))
		case num == attrInts && typ == protowire.BytesType:
			for len(v) > 0 {
				x, n := protowire.ConsumeVarint(v)
				if n < 0 {
					return fmt.Errorf("malformed packed ints: %w", protowire.ParseError(n))
				}
				a.ints = append(a.ints, int64(x))
				v = v[n:]
			}
		case num == attrStrings && typ == protowire.BytesType:
			a.strings = append(a.strings, string(v))
		}
		return nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("attribute %q: %w", name, err)
	}
	return name, a, nil
}

func parseValueInfo(b []byte) (onnxValue, error) {
	var vi onnxValue
	err := pbFields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case valueInfoName:
			vi.name = string(v)
		case valueInfoType:
			return pbFields(v, func(n protowire.Number, t protowire.Type, tensor []byte, _ uint64) error {
				if n != 1 || t != protowire.BytesType { // TypeProto.tensor_type
					return nil
				}
				return pbFields(tensor, func(n protowire.Number, t protowire.Type, shape []byte, u uint64) error {
					switch {
					case n == 1 && t == protowire.VarintType:
						vi.elemType = int64(u)
					case n == 2 && t == protowire.BytesType:
						vi.dims = []int64{}
						return pbFields(shape, func(n protowire.Number, t protowire.Type, dim []byte, _ uint64) error {
							if n != 1 || t != protowire.BytesType {
								return nil
							}
							d := int64(-1)
							err := pbFields(dim, func(n protowire.Number, t protowire.Type, _ []byte, u uint64) error {
								if n == 1 && t == protowire.VarintType {
									d = int64(u)
								}
								return nil
							})
							vi.dims = append(vi.dims, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return vi, err
}

// onnxGraph walks the graph: the input, optionally through Identity or
// Cast to float, into one TreeEnsembleClassifier or TreeEnsembleRegressor,
// whose outputs may go through Identity, Cast or ZipMap. Anything else is
// an error naming the operator.
func onnxGraph(nodes []*onnxNode, in *onnxValue) (*Model, error) {
	switch in.elemType {
	case onnxFloat, onnxDouble, onnxInt64:
	default:
		return nil, fmt.Errorf("input %q has element type %d; a tree ensemble takes float, double or int64 features", in.name, in.elemType)
	}
	// Values fed by the input (name -> element type), and by the ensemble.
	feed := map[string]int64{in.name: in.elemType}
	fromTrees := map[string]bool{}
	var trees *onnxNode
	done := make([]bool, len(nodes))
	for progress := true; progress; {
		progress = false
		for i, n := range nodes {
			if done[i] {
				continue
			}
			if len(n.inputs) == 0 {
				return nil, fmt.Errorf("operator %s has no input", n.opType)
			}
			src := n.inputs[0]
			_, fromInput := feed[src]
			if !fromInput && !fromTrees[src] {
				continue
			}
			if len(n.inputs) != 1 {
				return nil, fmt.Errorf("operator %s has %d inputs; only one-input operators are supported around the tree ensemble", n.opType, len(n.inputs))
			}
			done[i], progress = true, true
			op := n.opType
			ml := n.domain == "ai.onnx.ml"
			switch {
			case ml && (op == "TreeEnsembleClassifier" || op == "TreeEnsembleRegressor"):
				if !fromInput {
					return nil, fmt.Errorf("%s fed by another tree ensemble's output", op)
				}
				if trees != nil {
					return nil, fmt.Errorf("several tree ensembles in one graph")
				}
				if t := feed[src]; t != onnxFloat {
					return nil, fmt.Errorf("%s takes %q of element type %d: only float features are supported (add a Cast to float)", op, src, t)
				}
				trees = n
				for _, o := range n.outputs {
					fromTrees[o] = true
				}
			case (n.domain == "" || n.domain == "ai.onnx") && (op == "Identity" || op == "Cast"):
				to := int64(-1)
				if op == "Cast" {
					a := n.attrs["to"]
					if a == nil {
						return nil, fmt.Errorf("Cast without \"to\"")
					}
					to = a.i
				}
				for _, o := range n.outputs {
					if fromInput {
						if to < 0 {
							to = feed[src]
						}
						feed[o] = to
					} else {
						fromTrees[o] = true
					}
				}
			case ml && op == "ZipMap":
				if fromInput {
					return nil, fmt.Errorf("ZipMap applied to the input")
				}
				for _, o := range n.outputs {
					fromTrees[o] = true
				}
			default:
				return nil, fmt.Errorf("operator %s (domain %q) not supported: a graph is input -> TreeEnsembleClassifier or TreeEnsembleRegressor -> optional ZipMap, with Identity or Cast around", op, n.domain)
			}
		}
	}
	for i, n := range nodes {
		if !done[i] {
			return nil, fmt.Errorf("operator %s (domain %q) is not fed by the input or the tree ensemble; not supported", n.opType, n.domain)
		}
	}
	if trees == nil {
		return nil, fmt.Errorf("no TreeEnsembleClassifier or TreeEnsembleRegressor (ai.onnx.ml) fed by the input")
	}
	nFeat := -1
	if len(in.dims) == 2 && in.dims[1] > 0 {
		nFeat = int(in.dims[1])
	} else if len(in.dims) != 0 && len(in.dims) != 2 {
		return nil, fmt.Errorf("input %q has %d dimensions; want [N, features]", in.name, len(in.dims))
	}
	return treeEnsemble(trees, nFeat)
}

// treeEnsemble builds the model from a TreeEnsembleClassifier or
// TreeEnsembleRegressor node's attributes, as documented in
// https://github.com/onnx/onnx/blob/main/docs/Operators-ml.md and evaluated
// by onnxruntime (docs/models.md, "Formats").
func treeEnsemble(n *onnxNode, nFeat int) (*Model, error) {
	op := n.opType
	m := &Model{init: math.NaN()}
	// (in attribute order: ranging over the map would make the fuzzer's
	// coverage vary from run to run)
	for _, name := range n.attrOrder {
		if n.attrs[name].tensor || strings.HasSuffix(name, "_as_tensor") {
			return nil, fmt.Errorf("%s: attribute %s (double-precision trees) not supported", op, name)
		}
	}
	ints := func(name string) []int64 {
		if a := n.attrs[name]; a != nil {
			return a.ints
		}
		return nil
	}
	floats := func(name string) []float32 {
		if a := n.attrs[name]; a != nil {
			return a.floats
		}
		return nil
	}
	str := func(name, dflt string) string {
		if a := n.attrs[name]; a != nil {
			return a.s
		}
		return dflt
	}
	var modes []string
	if a := n.attrs["nodes_modes"]; a != nil {
		modes = a.strings
	}
	treeIDs, nodeIDs := ints("nodes_treeids"), ints("nodes_nodeids")
	featIDs, values := ints("nodes_featureids"), floats("nodes_values")
	trueIDs, falseIDs := ints("nodes_truenodeids"), ints("nodes_falsenodeids")
	tracks := ints("nodes_missing_value_tracks_true")
	nn := len(treeIDs)
	if nn == 0 {
		return nil, fmt.Errorf("%s has no nodes (nodes_treeids empty)", op)
	}
	for _, c := range []struct {
		name string
		n    int
	}{{"nodes_nodeids", len(nodeIDs)}, {"nodes_modes", len(modes)}, {"nodes_featureids", len(featIDs)},
		{"nodes_values", len(values)}, {"nodes_truenodeids", len(trueIDs)}, {"nodes_falsenodeids", len(falseIDs)}} {
		if c.n != nn {
			return nil, fmt.Errorf("%s: %s has %d entries for %d nodes (nodes_treeids)", op, c.name, c.n, nn)
		}
	}
	if tracks != nil && len(tracks) != nn {
		return nil, fmt.Errorf("%s: nodes_missing_value_tracks_true has %d entries for %d nodes", op, len(tracks), nn)
	}

	type key struct{ tree, node int64 }
	index := make(map[key]int32, nn)
	var treeOrder []int64
	seenTree := map[int64]bool{}
	for i := range nn {
		k := key{treeIDs[i], nodeIDs[i]}
		if _, dup := index[k]; dup {
			return nil, fmt.Errorf("%s: node %d of tree %d appears twice", op, k.node, k.tree)
		}
		index[k] = int32(i)
		if !seenTree[k.tree] {
			seenTree[k.tree] = true
			treeOrder = append(treeOrder, k.tree)
		}
	}

	// Leaf weights: class_* or target_*.
	prefix := "target_"
	if op == "TreeEnsembleClassifier" {
		prefix = "class_"
	}
	wTree, wNode, wID, wVal := ints(prefix+"treeids"), ints(prefix+"nodeids"), ints(prefix+"ids"), floats(prefix+"weights")
	if len(wNode) != len(wTree) || len(wID) != len(wTree) || len(wVal) != len(wTree) {
		return nil, fmt.Errorf("%s: %streeids, %snodeids, %sids and %sweights have %d, %d, %d and %d entries",
			op, prefix, prefix, prefix, prefix, len(wTree), len(wNode), len(wID), len(wVal))
	}
	leafWeights := make([][]weight, nn)
	classIDs := map[int64]bool{}
	positive := true
	for j := range wTree {
		i, ok := index[key{wTree[j], wNode[j]}]
		if !ok {
			return nil, fmt.Errorf("%s: weight %d for node %d of tree %d, which does not exist", op, j, wNode[j], wTree[j])
		}
		if wID[j] < 0 || wID[j] > math.MaxInt32 {
			return nil, fmt.Errorf("%s: weight %d for output %d", op, j, wID[j])
		}
		leafWeights[i] = append(leafWeights[i], weight{target: int32(wID[j]), value: wVal[j]})
		classIDs[wID[j]] = true
		positive = positive && wVal[j] >= 0
	}

	m.base = floats("base_values")
	post, ok := postTransforms[str("post_transform", "NONE")]
	if !ok {
		return nil, fmt.Errorf("%s: post_transform %q unknown", op, str("post_transform", ""))
	}
	m.post = post
	if op == "TreeEnsembleClassifier" {
		m.classifier = true
		if a := n.attrs["classlabels_strings"]; a != nil && len(a.strings) > 0 {
			for _, s := range a.strings {
				m.labels = append(m.labels, s)
			}
		}
		if a := n.attrs["classlabels_int64s"]; a != nil && len(a.ints) > 0 {
			if m.labels != nil {
				return nil, fmt.Errorf("%s has both classlabels_strings and classlabels_int64s", op)
			}
			for _, l := range a.ints {
				m.labels = append(m.labels, l)
			}
		}
		if len(m.labels) < 2 {
			return nil, fmt.Errorf("%s has %d class labels; want at least two", op, len(m.labels))
		}
		m.nScores, m.nOut = len(m.labels), len(m.labels)
		m.binary = len(m.labels) == 2 && len(classIDs) == 1
		m.positive = positive
		m.finish = finishONNXClassifier
		m.agg = aggSum
	} else {
		if t := n.attrs["n_targets"]; t != nil && t.i != 1 {
			return nil, fmt.Errorf("%s has n_targets %d; only single-target regressors are supported", op, t.i)
		}
		agg, ok := aggregates[str("aggregate_function", "SUM")]
		if !ok {
			return nil, fmt.Errorf("%s: aggregate_function %q unknown", op, str("aggregate_function", ""))
		}
		m.agg = agg
		m.nScores, m.nOut = 1, 1
		if len(m.base) == 1 {
			m.regOrigin = m.base[0]
		}
		m.finish = finishONNXRegressor
	}

	// Nodes, tree by tree in the order the trees first appear; children
	// are looked up by (tree, node id).
	maxFeat := int64(-1)
	m.nodes = make([]node, nn)
	children := make([]bool, nn)
	for i := range nn {
		mode, ok := nodeModes[modes[i]]
		if !ok {
			return nil, fmt.Errorf("%s: node %d of tree %d has mode %q (want BRANCH_LEQ, BRANCH_LT, BRANCH_GTE, BRANCH_GT, BRANCH_EQ, BRANCH_NEQ or LEAF)", op, nodeIDs[i], treeIDs[i], modes[i])
		}
		var nd node
		if mode == modeLeaf {
			from := int32(len(m.weights))
			m.weights = append(m.weights, leafWeights[i]...)
			nd = leafNode(from, int32(len(m.weights)))
		} else {
			if len(leafWeights[i]) > 0 {
				return nil, fmt.Errorf("%s: branch node %d of tree %d has %sweights", op, nodeIDs[i], treeIDs[i], prefix)
			}
			y, ok1 := index[key{treeIDs[i], trueIDs[i]}]
			no, ok2 := index[key{treeIDs[i], falseIDs[i]}]
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%s: node %d of tree %d has children %d and %d, not both in the tree", op, nodeIDs[i], treeIDs[i], trueIDs[i], falseIDs[i])
			}
			if featIDs[i] < 0 || featIDs[i] > maxFeature {
				return nil, fmt.Errorf("%s: node %d of tree %d splits on feature %d", op, nodeIDs[i], treeIDs[i], featIDs[i])
			}
			nd = branchNode(int32(featIDs[i]), values[i], mode, tracks != nil && tracks[i] != 0, y, no)
			children[y], children[no] = true, true
			maxFeat = max(maxFeat, featIDs[i])
		}
		m.nodes[i] = nd
	}
	rootOf := map[int64]int32{}
	for i := range nn {
		if children[i] {
			continue
		}
		if r, dup := rootOf[treeIDs[i]]; dup {
			return nil, fmt.Errorf("%s: tree %d has two roots (nodes %d and %d)", op, treeIDs[i], nodeIDs[r], nodeIDs[i])
		}
		rootOf[treeIDs[i]] = int32(i)
	}
	for _, t := range treeOrder {
		r, ok := rootOf[t]
		if !ok {
			return nil, fmt.Errorf("%s: tree %d has no root (its nodes form a cycle)", op, t)
		}
		m.roots = append(m.roots, r)
	}
	if nFeat < 0 {
		nFeat = int(maxFeat + 1)
	} else if maxFeat >= int64(nFeat) {
		return nil, fmt.Errorf("%s splits on feature %d but the input has %d features", op, maxFeat, nFeat)
	}
	m.nFeatures = nFeat
	seen, err := m.reachable(nFeat)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	for i, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("%s: node %d of tree %d is not reachable from the tree's root", op, nodeIDs[i], treeIDs[i])
		}
	}
	return m, nil
}

// finishONNXRegressor turns the aggregated score of a single-target
// TreeEnsembleRegressor into its output as onnxruntime does: base_values
// (one) added, AVERAGE divided by the number of trees, PROBIT the only
// post_transform applied to one target.
func finishONNXRegressor(m *Model, out []float64) {
	s, has := float32(out[0]), out[0] == out[0]
	switch {
	case !has:
		s = m.regOrigin
	case m.agg == aggAverage:
		s = s/float32(len(m.roots)) + m.regOrigin
	default:
		s += m.regOrigin
	}
	if m.post == postProbit {
		s = probit32(s)
	}
	out[0] = float64(s)
}

// finishONNXClassifier turns TreeEnsembleClassifier's per-class sums into
// its probabilities output as onnxruntime does (docs/models.md): base_values
// added; two labels voted through one class id (the binary case) give
// [1-s, s] when all weights are >= 0, else [-s, s] or [s, -s], or
// [logistic(-s), logistic(s)] under LOGISTIC; otherwise post_transform
// applies to every class.
func finishONNXClassifier(m *Model, out []float64) {
	n := len(m.labels)
	s := out[:n]
	var hasBuf [2]bool
	if n > 2 {
		for k := range s {
			if s[k] != s[k] {
				s[k] = 0
				if k < len(m.base) {
					s[k] = float64(m.base[k])
				}
			} else if k < len(m.base) {
				s[k] = float64(float32(s[k]) + m.base[k])
			}
		}
		transform(m.post, s)
		return
	}
	for k := range 2 {
		hasBuf[k] = s[k] == s[k]
		if !hasBuf[k] {
			s[k] = 0
		}
	}
	single := false
	switch len(m.base) {
	case 2:
		if hasBuf[1] {
			s[1] = float64(m.base[1] + float32(s[0]))
			s[0] = -s[1]
		} else {
			s[1] = float64(float32(s[1]) + m.base[1])
			s[0] = float64(float32(s[0]) + m.base[0])
		}
	case 1:
		s[0] = float64(float32(s[0]) + m.base[0])
		single = !hasBuf[1]
	case 0:
		single = !hasBuf[1]
	}
	if !single {
		transform(m.post, s)
		return
	}
	// One score v for two columns. (onnxruntime also tells v > 0.5 from
	// v <= 0.5 under all weights >= 0, for its label output, which is not
	// used here: the probabilities are the same.)
	v := float32(s[0])
	switch {
	case m.post == postProbit:
		s[0], s[1] = float64(probit32(v)), 0
	case m.binary && m.positive:
		s[0], s[1] = float64(1-v), float64(v)
	case !m.binary && len(m.base) == 1:
		s[0], s[1] = float64(v), 0
	case m.post == postLogistic:
		s[0], s[1] = float64(logistic32(-v)), float64(logistic32(v))
	case m.binary && hasBuf[0] && v > 0:
		s[0], s[1] = float64(-v), float64(v)
	default:
		s[0], s[1] = float64(v), float64(-v)
	}
}

// transform applies post_transform to two or more scores in float32.
func transform(p postTransform, s []float64) {
	switch p {
	case postLogistic:
		for i := range s {
			s[i] = float64(logistic32(float32(s[i])))
		}
	case postProbit:
		for i := range s {
			s[i] = float64(probit32(float32(s[i])))
		}
	case postSoftmax:
		softmax32(s)
	case postSoftmaxZero:
		// Scores of (almost) zero are left at zero.
		mx := float32(math.Inf(-1))
		for _, v := range s {
			mx = max(mx, float32(v))
		}
		expNeg := float32(math.Exp(-float64(mx)))
		var sum float32
		for i, v := range s {
			f := float32(v)
			if f > 1e-7 || f < -1e-7 {
				e := float32(math.Exp(float64(f - mx)))
				s[i] = float64(e)
				sum += e
			} else {
				s[i] = float64(f * expNeg)
			}
		}
		for i := range s {
			s[i] = float64(float32(s[i]) / sum)
		}
	}
}

func logistic32(v float32) float32 {
	e := float32(1 / (1 + math.Exp(-math.Abs(float64(v)))))
	if v < 0 {
		return 1 - e
	}
	return e
}

// probit32 is onnxruntime's probit: sqrt(2) * erfinv(2v - 1), erfinv by
// Winitzki's approximation (a = 0.147), in float32.
func probit32(v float32) float32 {
	x := 2*v - 1
	sgn := float32(1)
	if x < 0 {
		sgn = -1
	}
	x = (1 - x) * (1 + x)
	lg := float32(math.Log(float64(x)))
	a := 2/(3.14159*0.147) + 0.5*lg
	b := 1 / float32(0.147) * lg
	r := float32(math.Sqrt(float64(-a + float32(math.Sqrt(float64(a*a-b))))))
	return 1.41421356 * sgn * r
}
