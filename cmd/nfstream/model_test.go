package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// The model tests (docs/models.md section 6): Python (testdata/models/
// oracle.py, with Debian's scikit-learn and XGBoost) trains models on our
// CSV of some corpus captures; nfstream deploys them on other captures;
// Python predicts on the rows nfstream wrote and the columns must agree.

const python = "/usr/bin/python3"

// needPython skips the test when /usr/bin/python3 lacks a module.
func needPython(t *testing.T, modules ...string) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import "+strings.Join(modules, ", ")).CombinedOutput()
	if err != nil {
		t.Skipf("%s cannot import %s (scripts/deps.sh installs python3-pandas, python3-sklearn, python3-xgboost): %v: %s",
			python, strings.Join(modules, ", "), err, lastLine(string(out)))
	}
}

func lastLine(s string) string {
	l := lines(strings.TrimSpace(s))
	return l[len(l)-1]
}

// modelFeatures are the flags every model run uses: the features the
// oracle's models are trained on need them.
var modelFeatures = []string{"--stats", "--splt", "10", "-q"}

// trainedSet is the models trained once for the package's tests.
type trainedSet struct {
	dir  string
	test []string // captures the models were not trained on
	onnx bool     // the ONNX models were converted
	err  error
}

var (
	trainOnce sync.Once
	trained   trainedSet
)

// corpusSplit returns a quarter of the corpus captures for training and
// another quarter for testing (sorted by name, every fourth from 0 and
// from 1).
func corpusSplit(t *testing.T) (train, test []string) {
	dir := filepath.Join(corpus.Dir(t), "pcaps")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for i, n := range names {
		switch i % 4 {
		case 0:
			train = append(train, filepath.Join(dir, n))
		case 1:
			test = append(test, filepath.Join(dir, n))
		}
	}
	return train, test
}

// oracle runs testdata/models/oracle.py and decodes its JSON answer.
func oracle(t *testing.T, out any, args ...string) {
	t.Helper()
	script := filepath.Join(corpus.RepoRoot(t), "testdata", "models", "oracle.py")
	cmd := exec.Command(python, append([]string{script}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle.py %s: %v\n%s", args[0], err, stderr.String())
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("oracle.py %s: %v: %s", args[0], err, b)
	}
}

// models trains the oracle's models on our CSV of the training captures,
// once; it returns their folder and the captures to test on.
func models(t *testing.T) *trainedSet {
	t.Helper()
	needPython(t, "pandas", "sklearn", "xgboost")
	trainCaps, testCaps := corpusSplit(t)
	trainOnce.Do(func() {
		dir := filepath.Join(filepath.Dir(nfstreamBin), "models")
		if err := os.MkdirAll(filepath.Join(dir, "train"), 0o755); err != nil {
			trained.err = err
			return
		}
		var csvs []string
		for _, c := range trainCaps {
			out := filepath.Join(dir, "train", filepath.Base(c)+".csv")
			if res := runNFStream(t, nil, append([]string{"-r", c, "-o", out}, modelFeatures...)...); res.code != 0 {
				continue // a capture we cannot read to the end
			}
			csvs = append(csvs, out)
		}
		var info struct {
			Rows int `json:"rows"`
		}
		oracle(t, &info, append([]string{"train", dir}, csvs...)...)
		t.Logf("trained on %d flows of %d captures", info.Rows, len(csvs))
		_, err := os.Stat(filepath.Join(dir, "rf.onnx"))
		trained = trainedSet{dir: dir, test: testCaps, onnx: err == nil}
	})
	if trained.err != nil || trained.dir == "" {
		t.Fatalf("training failed: %v", trained.err)
	}
	return &trained
}

// runCSVs runs nfstream -r CAPTURE -o CSV args... on each capture and
// returns the CSVs of the runs that succeeded: a run that fails without
// writing its CSV is an error, one that fails later (a capture not
// readable to the end) is left out.
func runCSVs(t *testing.T, captures []string, args ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var csvs []string
	for i, c := range captures {
		out := filepath.Join(dir, strconv.Itoa(i)+".csv")
		res := runNFStream(t, nil, append([]string{"-r", c, "-o", out}, args...)...)
		if res.code != 0 {
			if !exists(out) {
				t.Errorf("%s: exit %d: %s", c, res.code, res.stderr)
			}
			continue
		}
		csvs = append(csvs, out)
	}
	return csvs
}

func (s *trainedSet) file(name string) string {
	for _, ext := range []string{".json", ".onnx"} {
		if p := filepath.Join(s.dir, name+ext); exists(p) {
			return p
		}
	}
	return filepath.Join(s.dir, name+".json")
}

// oracleCheck is oracle.py check's answer.
type oracleCheck map[string]json.RawMessage

type modelVerdict struct {
	Bad    []map[string]any `json:"bad"`
	NBad   int              `json:"nbad"`
	Labels []string         `json:"labels"`
}

// TestModelPredictions: for every flow of captures the models were not
// trained on, udps.NAME_prediction equals Python's predict on the row we
// wrote and udps.NAME_probability the largest of predict_proba, within
// 1e-6.
func TestModelPredictions(t *testing.T) {
	s := models(t)
	names := []string{"xgb_binary", "xgb_multi", "xgb_reg", "seed"}
	if s.onnx {
		names = append(names, "rf", "gb", "dtreg")
	} else {
		t.Log("no ONNX models (the converter is not there): XGBoost only")
	}
	args := []string{"--model-features", "seed=bidirectional_packets,bidirectional_bytes"}
	for _, n := range names {
		args = append(args, "--model", n+"="+s.file(n))
	}
	csvs := runCSVs(t, s.test, append(append([]string(nil), modelFeatures...), args...)...)
	var got oracleCheck
	oracle(t, &got, append([]string{"check", s.dir, strings.Join(names, ",")}, csvs...)...)
	var rows int
	json.Unmarshal(got["rows"], &rows)
	if rows < 100 {
		t.Fatalf("only %d flows checked", rows)
	}
	for _, n := range names {
		var v modelVerdict
		if err := json.Unmarshal(got[n], &v); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if v.NBad > 0 {
			t.Errorf("%s: %d of %d flows differ from Python, e.g. %v", n, v.NBad, rows, v.Bad)
		}
		if len(v.Labels) == 1 {
			t.Errorf("%s: every flow predicted %s: the check says little", n, v.Labels[0])
		}
		t.Logf("%s: %d flows of %d captures equal to Python's (labels predicted: %v)", n, rows, len(csvs), v.Labels)
	}
}

// TestModelEarly: with --model-at e=5 the verdict of a flow is Python's
// prediction on the same flow cut at 5 packets by NFStream's flow slicer
// (docs/models.md section 3).
func TestModelEarly(t *testing.T) {
	s := models(t)
	const k = "5"
	dir := t.TempDir()
	args := []string{"early", s.dir, "xgb_binary", "e", k}
	for i, c := range s.test {
		early, sliced := filepath.Join(dir, strconv.Itoa(i)+".early.csv"), filepath.Join(dir, strconv.Itoa(i)+".sliced.csv")
		common := append([]string{"-r", c, "--n-dissections", "0"}, modelFeatures...)
		r1 := runNFStream(t, nil, append(common, "-o", early, "--model", "e="+s.file("xgb_binary"), "--model-at", "e="+k)...)
		r2 := runNFStream(t, nil, append(common, "-o", sliced, "--plugin", "flow_slicer:limit="+k)...)
		if r1.code != 0 || r2.code != 0 {
			continue
		}
		args = append(args, early, sliced)
	}
	var got struct {
		Rows, Matched, Longer, NBad int
		Bad                         []map[string]any
	}
	oracle(t, &got, args...)
	if got.NBad > 0 {
		t.Errorf("%d early verdicts differ from Python's on the sliced flows, e.g. %v", got.NBad, got.Bad)
	}
	if got.Longer < 50 || got.Matched < got.Rows*9/10 {
		t.Errorf("%d flows, %d matched with a slice, %d longer than %s packets: too few to show anything", got.Rows, got.Matched, got.Longer, k)
	}
	t.Logf("%d flows (%d longer than %s packets) predicted as Python predicts on the flow cut at %s packets", got.Matched, got.Longer, k, k)
}

// TestModelStarlark: NFStream's deployment example (docs/models.md
// section 4) as a Starlark script predicts as Python does; the same model
// given without feature names is for the script only.
func TestModelStarlark(t *testing.T) {
	s := models(t)
	script := writeFile(t, "predict.star", []byte(`
def on_init(packet, flow):
    flow.udps.model_prediction = 0

def on_expire(flow):
    to_predict = [flow.bidirectional_packets, flow.bidirectional_bytes]
    flow.udps.model_prediction = models.m.predict(to_predict)
    flow.udps.model_probability = max(models.m.predict_proba(to_predict))
    if models.m.labels != [0, 1] or models.m.features != None:
        fail("labels %s features %s" % (models.m.labels, models.m.features))
`))
	csvs := runCSVs(t, s.test[:len(s.test)/2], append([]string{"--n-dissections", "0", "--model", "m=" + s.file("seed"),
		"--plugin", script}, modelFeatures...)...)
	for _, out := range csvs {
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if h := lines(string(b))[0]; strings.Contains(h, "udps.m_") || !strings.HasSuffix(h, ",udps.model_prediction,udps.model_probability") {
			t.Fatalf("header %s: want the script's columns only", h)
		}
	}
	var got oracleCheck
	oracle(t, &got, append([]string{"check", s.dir, "seed:model"}, csvs...)...)
	var v modelVerdict
	json.Unmarshal(got["seed:model"], &v)
	var rows int
	json.Unmarshal(got["rows"], &rows)
	if v.NBad > 0 || rows < 50 || len(v.Labels) < 2 {
		t.Errorf("%d flows, %d differ from Python, e.g. %v; labels %v", rows, v.NBad, v.Bad, v.Labels)
	}
	t.Logf("%d flows predicted by the script as Python predicts", rows)
}

// TestModelUsageErrors: a bad model, feature or flag is a usage error
// naming it, before any output exists (docs/models.md section 1).
func TestModelUsageErrors(t *testing.T) {
	s := models(t)
	bin := s.file("xgb_binary")
	var feats struct {
		Learner struct {
			FeatureNames []string `json:"feature_names"`
		} `json:"learner"`
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &feats); err != nil || len(feats.Learner.FeatureNames) < 3 {
		t.Fatalf("feature names of %s: %v", bin, err)
	}
	names := feats.Learner.FeatureNames
	with := func(i int, name string) string {
		l := append([]string(nil), names...)
		l[i] = name
		return "m=" + strings.Join(l, ",")
	}
	spltPS := -1
	for i, n := range names {
		if n == "splt_ps_9" {
			spltPS = i
		}
	}
	truncated := writeFile(t, "truncated.json", b[:len(b)/2])
	notModel := writeFile(t, "model.json", []byte(`{"hello": "world"}`))
	unknownExt := writeFile(t, "model.pkl", b)
	pcap := filepath.Join(corpus.RepoRoot(t), "testdata", "eth_ipv4.pcap")
	type usageCase struct {
		name string
		args []string
		want []string
	}
	var onnxCases []usageCase
	if s.onnx {
		rf, err := os.ReadFile(s.file("rf"))
		if err != nil {
			t.Fatal(err)
		}
		cut := writeFile(t, "truncated.onnx", rf[:len(rf)*2/3])
		onnxCases = []usageCase{
			{"truncated onnx", []string{"--model", "m=" + cut, "--stats", "--splt", "10"}, []string{"--model m", cut}},
			{"onnx stats off", []string{"--model", "m=" + s.file("rf"), "--splt", "10"}, []string{"model m", "needs --stats"}},
		}
	}
	for _, c := range append([]usageCase{
		{"unknown feature", []string{"--model", "m=" + bin, "--model-features", with(1, "bogus_column")}, []string{"model m", "bogus_column", "not a column"}},
		{"stats off", []string{"--model", "m=" + bin, "--splt", "10"}, []string{"model m", "bidirectional_min_ps", "needs --stats"}},
		{"splt too short", []string{"--model", "m=" + bin, "--stats", "--splt", "10", "--model-features", with(spltPS, "splt_ps_12")}, []string{"model m", "splt_ps_12", "needs --splt 13 or more (--splt is 10)"}},
		{"splt off", []string{"--model", "m=" + bin, "--stats"}, []string{"model m", "splt_direction_0", "needs --splt 1 or more"}},
		{"text column", []string{"--model", "m=" + bin, "--stats", "--splt", "10", "--model-features", with(0, "application_name")}, []string{"model m", "application_name", "numeric"}},
		{"wrong count", []string{"--model", "m=" + bin, "--model-features", "m=bidirectional_packets,bidirectional_bytes"}, []string{"model m", bin, strconv.Itoa(len(names)) + " features, 2 names"}},
		{"no names", []string{"--model", "m=" + s.file("seed")}, []string{"model m", "carries no feature names", "--model-features m="}},
		{"truncated", []string{"--model", "m=" + truncated, "--stats", "--splt", "10"}, []string{"--model m", truncated}},
		{"not a model", []string{"--model", "m=" + notModel, "--stats", "--splt", "10"}, []string{"--model m", notModel}},
		{"unknown format", []string{"--model", "m=" + unknownExt}, []string{"--model m", unknownExt}},
		{"missing file", []string{"--model", "m=" + filepath.Join(t.TempDir(), "none.json")}, []string{"--model m", "none.json"}},
		{"duplicate name", []string{"--model", "m=" + bin, "--model", "m=" + bin, "--stats", "--splt", "10"}, []string{"--model m given twice"}},
		{"bad name", []string{"--model", "1m=" + bin}, []string{"--model", "1m=", "identifier"}},
		{"no file", []string{"--model", "m"}, []string{"--model", "NAME=FILE"}},
		{"at zero", []string{"--model", "m=" + bin, "--stats", "--splt", "10", "--model-at", "m=0"}, []string{"--model-at", "1 or more"}},
		{"at unknown model", []string{"--model-at", "x=5"}, []string{"--model-at x", "no --model x"}},
		{"features unknown model", []string{"--model-features", "x=a,b"}, []string{"--model-features x", "no --model x"}},
		{"features twice", []string{"--model", "m=" + bin, "--model-features", with(0, "bidirectional_packets"), "--model-features", with(0, "bidirectional_packets")}, []string{"--model-features m given twice"}},
		{"features empty name", []string{"--model", "m=" + bin, "--model-features", "m=bidirectional_packets,,bidirectional_bytes"}, []string{"--model-features", "an empty column name"}},
		{"at twice", []string{"--model", "m=" + bin, "--stats", "--splt", "10", "--model-at", "m=3", "--model-at", "m=4"}, []string{"--model-at m given twice"}},
		{"at not a number", []string{"--model", "m=" + bin, "--stats", "--splt", "10", "--model-at", "m=five"}, []string{"--model-at", "m=five", "1 or more"}},
		{"early L7", []string{"--model", "m=" + bin, "--stats", "--splt", "10", "--model-at", "m=3", "--model-features", with(0, "application_confidence")}, []string{"model m", "application_confidence", "--model-at"}},
	}, onnxCases...) {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.csv")
			res := runNFStream(t, nil, append([]string{"-r", pcap, "-o", out}, c.args...)...)
			if res.code != 2 || exists(out) || !strings.HasPrefix(res.stderr, "nfstream: ") || strings.Count(res.stderr, "nfstream: ") != 1 {
				t.Fatalf("exit %d, output exists %v, stderr %q", res.code, exists(out), res.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("stderr %q does not say %q", res.stderr, w)
				}
			}
		})
	}
}

// TestTrainExample runs scripts/train-example (docs/models.md section 5):
// it trains on our CSV of half of testdata/, deploys the model with
// nfstream --model on the other half, and fails unless every prediction
// equals Python's.
func TestTrainExample(t *testing.T) {
	needPython(t, "pandas", "xgboost")
	script := filepath.Join(corpus.RepoRoot(t), "scripts", "train-example")
	cmd := exec.Command(script, t.TempDir())
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 3 {
		t.Skipf("train-example: %s", lastLine(string(out)))
	}
	if err != nil {
		t.Fatalf("train-example: %v\n%s", err, out)
	}
	last := lastLine(string(out))
	if !strings.Contains(last, "predictions equal to Python's") {
		t.Fatalf("output:\n%s", out)
	}
	f := strings.Fields(last)
	if f[0] != f[2] || f[0] == "0" {
		t.Errorf("not every flow as Python: %s", last)
	}
	t.Log(last)
}

// TestModelParquetMetadata: a Parquet file names the models whose columns
// it has, with the file's SHA-256 and the features fed to it.
func TestModelParquetMetadata(t *testing.T) {
	s := models(t)
	bin := s.file("xgb_binary")
	pq := filepath.Join(t.TempDir(), "flows.parquet")
	pcap := filepath.Join(corpus.RepoRoot(t), "testdata", "eth_ipv4.pcap")
	res := runNFStream(t, nil, append([]string{"-r", pcap, "-o", pq, "--model", "m=" + bin, "--model-at", "m=3"}, modelFeatures...)...)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var got []struct {
		Name, File, SHA256 string
		Features           []string
		At                 uint64
	}
	md := readParquetMetadata(t, pq)
	if err := json.Unmarshal([]byte(md["nfstream.models"]), &got); err != nil || len(got) != 1 {
		t.Fatalf("nfstream.models %q: %v", md["nfstream.models"], err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	var js struct {
		Learner struct {
			FeatureNames []string `json:"feature_names"`
		} `json:"learner"`
	}
	json.Unmarshal(b, &js)
	g := got[0]
	if g.Name != "m" || g.File != bin || g.SHA256 != hex.EncodeToString(sum[:]) || g.At != 3 ||
		strings.Join(g.Features, ",") != strings.Join(js.Learner.FeatureNames, ",") {
		t.Errorf("nfstream.models %s", md["nfstream.models"])
	}
}

// TestModelMeters: with three meters (each with its own instances of the
// model plugins, sharing the models) the output is the same as with one.
func TestModelMeters(t *testing.T) {
	s := models(t)
	flows, captures := 0, 0
	for _, pcap := range s.test {
		if flows >= 200 {
			break // enough: each run costs
		}
		captures++
		args := append([]string{"-r", pcap, "-o", "-", "--n-dissections", "0", "--model", "a=" + s.file("xgb_multi"),
			"--model", "b=" + s.file("xgb_reg"), "--model", "c=" + s.file("xgb_binary"), "--model-at", "c=4"}, modelFeatures...)
		one := runNFStream(t, nil, args...)
		three := runNFStream(t, nil, append(args, "--meters", "3")...)
		if one.code != 0 || three.code != 0 {
			continue
		}
		l := lines(one.stdout)
		if len(l) > 1 && !strings.HasSuffix(l[0], ",udps.a_prediction,udps.a_probability,udps.b_prediction,udps.c_prediction,udps.c_probability,udps.c_prediction_packets") {
			t.Fatalf("header %s", l[0])
		}
		if one.stdout != three.stdout {
			t.Errorf("%s: the output with 3 meters differs from that with 1", pcap)
		}
		flows += len(l) - 1
	}
	if flows < 100 {
		t.Fatalf("only %d flows", flows)
	}
	t.Logf("%d flows of %d captures the same with 1 and 3 meters", flows, captures)
}

// TestModelStarlarkErrors: a script's misuse of a model fails the run
// with a message naming the model and the script line.
func TestModelStarlarkErrors(t *testing.T) {
	s := models(t)
	pcap := filepath.Join(corpus.RepoRoot(t), "testdata", "eth_ipv4.pcap")
	for _, c := range []struct {
		name, body string
		code       int
		want       []string
	}{
		{"unknown model at load", "x = models.nope\n", 2, []string{"x.star:1:", "no model nope (models: r)"}},
		{"regressor proba", "def on_expire(flow):\n    models.r.predict_proba([0] * 53)\n", 1, []string{"x.star:2:", "models.r.predict_proba: the model is a regressor"}},
		{"count", "def on_expire(flow):\n    models.r.predict([1, 2])\n", 1, []string{"x.star:2:", "models.r.predict: 2 values, the model has 53 features"}},
		{"not a number", "def on_expire(flow):\n    models.r.predict(['a'] * 53)\n", 1, []string{"x.star:2:", "value 0 is a string, not a number"}},
		{"not a list", "def on_expire(flow):\n    models.r.predict(3)\n", 1, []string{"x.star:2:", "predict"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			script := writeFile(t, "x.star", []byte(c.body))
			res := runNFStream(t, nil, append([]string{"-r", pcap, "-o", "-", "--model", "r=" + s.file("xgb_reg"), "--plugin", script}, modelFeatures...)...)
			if res.code != c.code {
				t.Fatalf("exit %d, want %d: %s", res.code, c.code, res.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("stderr %q does not say %q", res.stderr, w)
				}
			}
		})
	}
}

// TestModelStarlarkFeatures: a script that feeds a model the flow's
// columns named by models.NAME.features (splt_ps_3 read as
// flow.splt_ps[3]) predicts as Python does, for the multi-class XGBoost
// model and, when converted, the RandomForest with string labels.
func TestModelStarlarkFeatures(t *testing.T) {
	s := models(t)
	names := []string{"xgb_multi"}
	if s.onnx {
		names = append(names, "rf")
	}
	for _, name := range names {
		script := writeFile(t, "features.star", []byte(`
def value(flow, n):
    for l in ("splt_direction", "splt_ps", "splt_piat_ms"):
        if n.startswith(l + "_"):
            return getattr(flow, l)[int(n[len(l) + 1:])]
    return getattr(flow, n)

def on_init(packet, flow):
    flow.udps.star_prediction = None
    flow.udps.star_probability = None

def on_expire(flow):
    values = [value(flow, n) for n in models.m.features]
    flow.udps.star_prediction = models.m.predict(values)
    flow.udps.star_probability = max(models.m.predict_proba(values))
`))
		csvs := runCSVs(t, s.test[:len(s.test)/2], append([]string{"--model", "m=" + s.file(name), "--plugin", script}, modelFeatures...)...)
		// The script's columns and the model plugin's: both as Python.
		var got oracleCheck
		oracle(t, &got, append([]string{"check", s.dir, name + ":star," + name + ":m"}, csvs...)...)
		var rows int
		json.Unmarshal(got["rows"], &rows)
		for _, spec := range []string{name + ":star", name + ":m"} {
			var v modelVerdict
			if err := json.Unmarshal(got[spec], &v); err != nil {
				t.Fatalf("%s: %v", spec, err)
			}
			if v.NBad > 0 || rows < 50 || len(v.Labels) < 2 {
				t.Errorf("%s: %d flows, %d differ from Python, e.g. %v; labels %v", spec, rows, v.NBad, v.Bad, v.Labels)
			}
		}
		t.Logf("%s: %d flows predicted by the script and by --model as Python predicts", name, rows)
	}
}
