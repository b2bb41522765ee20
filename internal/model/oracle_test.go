package model

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

const python = "/usr/bin/python3"

// needPython skips the test unless Debian's python3 has the packages the
// oracle script imports (python3-sklearn, python3-xgboost, python3-onnx,
// python3-pandas; scripts/deps.sh installs them).
func needPython(t testing.TB) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import sklearn, xgboost, onnx, pandas, numpy").CombinedOutput()
	if err != nil {
		t.Skipf("%s lacks sklearn/xgboost/onnx/pandas (apt-get install python3-sklearn python3-xgboost python3-onnx python3-pandas): %v: %s",
			python, err, strings.TrimSpace(string(out)))
	}
}

// oracleCase is one model of testdata/oracle.py's expect.json and what
// Python predicted for its rows.
type oracleCase struct {
	Name          string       `json:"name"`
	File          string       `json:"file"`
	Rows          [][]*float64 `json:"rows"`
	Labels        []any        `json:"labels"`
	Proba         [][]float64  `json:"proba"`
	Values        []float64    `json:"values"`
	Tol           float64      `json:"tol"`
	BestIteration *int         `json:"best_iteration"`
	Trees         int          `json:"trees"`
}

// flowCSVs runs nfstream (built from ./cmd/nfstream) with --stats on every
// corpus capture and testdata/ capture, one CSV per capture, and returns
// them in name order.
func flowCSVs(t *testing.T) []string {
	t.Helper()
	dir := corpus.Dir(t)
	root := corpus.RepoRoot(t)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "nfstream")
	build := exec.Command("go", "build", "-o", bin, "./cmd/nfstream")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building nfstream: %v\n%s", err, out)
	}
	caps, _ := filepath.Glob(filepath.Join(dir, "pcaps", "*"))
	local, _ := filepath.Glob(filepath.Join(root, "testdata", "*.pcap"))
	caps = append(caps, local...)
	sort.Strings(caps)
	var csvs []string
	for i, c := range caps {
		out := filepath.Join(tmp, fmt.Sprintf("%03d-%s.csv", i, filepath.Base(c)))
		run := exec.Command(bin, "-q", "-r", c, "--stats", "-o", out)
		if msg, err := run.CombinedOutput(); err != nil {
			t.Logf("skipping %s: nfstream: %v: %s", c, err, msg)
			continue
		}
		csvs = append(csvs, out)
	}
	if len(csvs) < 30 {
		t.Fatalf("only %d captures gave flows", len(csvs))
	}
	return csvs
}

// runOracle trains and exports the models in Python on two thirds of the
// captures and writes what Python predicts for the flows of the others;
// returns the folder with the models and expect.json.
func runOracle(t *testing.T) string {
	t.Helper()
	needPython(t)
	if dir := os.Getenv("NFSTREAM_ORACLE_OUT"); dir != "" {
		return dir // an earlier run's output, when debugging
	}
	csvs := flowCSVs(t)
	var train, eval []string
	for i, c := range csvs {
		if i%3 == 0 {
			eval = append(eval, c)
		} else {
			train = append(train, c)
		}
	}
	out := t.TempDir()
	trainList, evalList := filepath.Join(out, "train.txt"), filepath.Join(out, "eval.txt")
	if err := os.WriteFile(trainList, []byte(strings.Join(train, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(evalList, []byte(strings.Join(eval, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "testdata/oracle.py", trainList, evalList, out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oracle.py: %v\n%s", err, msg)
	}
	return out
}

func loadCases(t *testing.T, dir string) []oracleCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []oracleCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func rowValues(r []*float64) []float64 {
	x := make([]float64, len(r))
	for i, v := range r {
		if v == nil {
			x[i] = math.NaN()
		} else {
			x[i] = *v
		}
	}
	return x
}

// sameLabel compares a label of ours (int64 or string) with one decoded
// from JSON (float64 or string).
func sameLabel(ours, py any) bool {
	switch o := ours.(type) {
	case int64:
		f, ok := py.(float64)
		return ok && float64(o) == f
	case string:
		s, ok := py.(string)
		return ok && o == s
	}
	return false
}

// TestPythonOracle: on flows of captures the models were not trained on,
// every prediction equals Python's predict and every probability
// predict_proba within 1e-6 (sklearn models exported to ONNX by our
// converter, XGBoost JSON models, with missing values and values next to
// split conditions), and the hand-built ONNX models give the outputs
// computed by hand in the script.
func TestPythonOracle(t *testing.T) {
	dir := runOracle(t)
	cases := loadCases(t, dir)
	if len(cases) < 20 {
		t.Fatalf("expect.json has %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			m, err := Load(filepath.Join(dir, c.File))
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Rows) == 0 {
				t.Fatal("no rows")
			}
			if m.NumFeatures() != len(c.Rows[0]) {
				t.Fatalf("NumFeatures %d, rows of %d", m.NumFeatures(), len(c.Rows[0]))
			}
			if f := m.Features(); len(f) != m.NumFeatures() {
				t.Errorf("Features() = %v", f)
			}
			if c.BestIteration != nil {
				if c.Trees <= *c.BestIteration+1 {
					t.Errorf("early stopping kept %d trees for best_iteration %d: the case tests nothing", c.Trees, *c.BestIteration)
				}
				if m.NumTrees() != *c.BestIteration+1 {
					t.Errorf("%d trees used, want best_iteration+1 = %d", m.NumTrees(), *c.BestIteration+1)
				}
			}
			var scratch []float64
			bad := 0
			for i, r := range c.Rows {
				x := rowValues(r)
				label, prob, out := m.Predict(x, scratch)
				scratch = out
				if c.Values != nil {
					if m.IsClassifier() {
						t.Fatal("a classifier for a regression case")
					}
					want := c.Values[i]
					if got := label.(float64); !(math.Abs(got-want) <= c.Tol*max(1, math.Abs(want))) {
						bad++
						if bad < 5 {
							t.Errorf("row %d %v: value %v, Python %v", i, x, got, want)
						}
					}
					continue
				}
				want := c.Proba[i]
				if len(out) != len(want) {
					t.Fatalf("row %d: %d probabilities, Python %d", i, len(out), len(want))
				}
				for k := range want {
					if !(math.Abs(out[k]-want[k]) <= c.Tol) {
						bad++
						if bad < 5 {
							t.Errorf("row %d %v: probabilities %v, Python %v", i, x, out, want)
						}
						break
					}
				}
				if !sameLabel(label, c.Labels[i]) && !tiedWith(want, m.Labels(), label, c.Labels[i], c.Tol) {
					bad++
					if bad < 5 {
						t.Errorf("row %d %v: label %v (p=%v), Python %v (%v)", i, x, label, prob, c.Labels[i], want)
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d rows differ", bad, len(c.Rows))
			}
		})
	}
}

// tiedWith says whether Python's probabilities of our label and of its
// label are equal within tol: a tie float32 rounding may break either way.
func tiedWith(proba []float64, labels []any, ours, py any, tol float64) bool {
	pi, oi := -1, -1
	for i, l := range labels {
		if sameLabel(l, py) {
			pi = i
		}
		if l == ours {
			oi = i
		}
	}
	return pi >= 0 && oi >= 0 && math.Abs(proba[pi]-proba[oi]) <= tol
}
