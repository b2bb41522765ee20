package model

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The models in testdata/seeds are written by testdata/oracle.py --seeds:
// hand-built ONNX models, a small XGBoost model, and malformed ones (bad_*).

func TestMalformedModels(t *testing.T) {
	for file, want := range map[string]string{
		"bad_objective.json": `objective "rank:pairwise" not supported`,
		"bad_child.json":     "tree 1 node 0: children 99",
		"bad_names.json":     "4 feature_names for num_feature 3",
		"bad_arrays.json":    "tree 0: node arrays of different lengths",
		"bad_arrays.onnx":    "nodes_values has 20 entries for 21 nodes",
		"bad_cycle.onnx":     "node 0 of tree 0 is not reachable",
		"bad_mode.onnx":      `mode "BRANCH_MAYBE"`,
		"bad_features.onnx":  "features names 3 features, the model takes 2",
		"bad_class_id.onnx":  "leaf weight for output 7 of 3",
		"bad_operator.onnx":  "operator Normalizer (domain \"ai.onnx.ml\") not supported",
		"missing.onnx":       "no such file",
		"xgb_tiny.txt":       `unknown format ".txt"`,
	} {
		path := filepath.Join("testdata", "seeds", file)
		m, err := Load(path)
		if err == nil {
			t.Errorf("%s: loaded (%d trees), want an error with %q", file, m.NumTrees(), want)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q, want one naming the file and saying %q", file, err, want)
		}
	}
}

// TestXGBoostCounts: corrupt counts in a valid model are errors or
// harmless, never a panic or a huge allocation.
func TestXGBoostCounts(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "seeds", "xgb_tiny.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ old, new, want string }{
		{`"best_iteration":"2"`, `"best_iteration":"9223372036854775807"`, ""},
		{`"best_iteration":"2"`, `"best_iteration":"0"`, ""},
		{`"best_iteration":"2"`, `"best_iteration":"-1"`, `best_iteration "-1"`},
		{`"name":"binary:logistic"`, `"name":"multi:softprob"`, "num_class 0 (want 2 to 65536)"},
		{`"num_class":"0"`, `"num_class":"16000000"`, ""},
		{`"base_score":"5E-1"`, `"base_score":"1E0"`, "base_score 1 of binary:logistic"},
		{`"num_class":"0","num_feature":"3"`, `"num_class":"0","num_feature":"2"`, "3 feature_names for num_feature 2"},
	} {
		if !strings.Contains(string(data), c.old) {
			t.Fatalf("xgb_tiny.json lacks %s", c.old)
		}
		m, err := parseXGBoost([]byte(strings.Replace(string(data), c.old, c.new, 1)))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.new, err)
		case c.want == "":
			exercise(m)
		case err == nil || !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: error %v, want %q", c.new, err, c.want)
		}
	}
	m, _ := parseXGBoost([]byte(strings.Replace(string(data), `"best_iteration":"2"`, `"best_iteration":"0"`, 1)))
	if m == nil || m.NumTrees() != 1 {
		t.Errorf("best_iteration 0 keeps %v trees, want 1", m)
	}
}

func seedFiles(t testing.TB, ext string) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "seeds", "*"+ext))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/seeds/*%s: %v", ext, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

// TestTruncatedModels: every prefix of every seed model loads with an
// error or as a model that evaluates, never a panic; half a file is an
// error.
func TestTruncatedModels(t *testing.T) {
	for ext, parse := range map[string]func([]byte) (*Model, error){".onnx": parseONNX, ".json": parseXGBoost} {
		for name, data := range seedFiles(t, ext) {
			for n := range len(data) {
				m, err := parse(data[:n])
				if err == nil {
					exercise(m)
				} else if err.Error() == "" {
					t.Fatalf("%s[:%d]: empty error", name, n)
				}
				if n == len(data)/2 && err == nil {
					t.Errorf("%s: half the file (%d bytes) loads", name, n)
				}
			}
		}
	}
	dir := t.TempDir()
	data := seedFiles(t, ".onnx")[filepath.Join("testdata", "seeds", "hand_cls_softmax.onnx")]
	path := filepath.Join(dir, "cut.onnx")
	if err := os.WriteFile(path, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated ONNX file: %v, want an error naming it and saying truncated", err)
	}
}

// exercise evaluates m on a few vectors, as the fuzz targets do.
func exercise(m *Model) {
	n := min(m.NumFeatures(), 64)
	for _, v := range []float64{0, 1, -1, 0.5, math.NaN(), 1e30} {
		x := make([]float64, n)
		for i := range x {
			x[i] = v
		}
		m.Predict(x, nil)
	}
}

func FuzzLoadONNX(f *testing.F) {
	for _, b := range seedFiles(f, ".onnx") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := parseONNX(data); err == nil {
			exercise(m)
		}
	})
}

func FuzzLoadXGBoost(f *testing.F) {
	for _, b := range seedFiles(f, ".json") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := parseXGBoost(data); err == nil {
			exercise(m)
		}
	})
}

// TestEvalNoAllocConcurrent: Eval and Predict allocate nothing when the
// scratch slice is large enough, and one model serves several goroutines
// (run under -race).
func TestEvalNoAllocConcurrent(t *testing.T) {
	for _, file := range []string{"hand_cls_softmax.onnx", "hand_binary_logistic_mixed.onnx", "hand_reg_average_none.onnx", "xgb_tiny.json"} {
		m, err := Load(filepath.Join("testdata", "seeds", file))
		if err != nil {
			t.Fatal(err)
		}
		x := []float64{0.3, 0.7, math.NaN()}[:m.NumFeatures()]
		scratch := make([]float64, 0, 8)
		want := append([]float64(nil), m.Eval(x, scratch)...)
		if a := testing.AllocsPerRun(100, func() { m.Eval(x, scratch) }); a != 0 {
			t.Errorf("%s: Eval allocates %v times per call", file, a)
		}
		// A classifier's label is one of Labels(); a regressor's value is
		// boxed into the interface.
		if a := testing.AllocsPerRun(100, func() { m.Predict(x, scratch) }); a != 0 && m.IsClassifier() {
			t.Errorf("%s: Predict allocates %v times per call", file, a)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := make([]float64, 0, 8)
				for range 200 {
					got := m.Eval(x, s)
					for i := range want {
						if got[i] != want[i] {
							t.Errorf("%s: concurrent Eval %v, want %v", file, got, want)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
	}
}
