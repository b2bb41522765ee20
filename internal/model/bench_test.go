package model

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The benchmark's models, trained once per test binary (a benchmark
// function runs several times) and removed by TestMain.
var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// BenchmarkEval: one prediction (Predict) of a 100-tree depth-8
// RandomForest exported to ONNX and of a 100-tree depth-8 XGBoost model,
// reported in ns per prediction and as ratios to the same forest with one
// tree, measured in the same run (models from testdata/oracle.py --bench).
func BenchmarkEval(b *testing.B) {
	needPython(b)
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "nfstream-model-bench")
		if benchErr != nil {
			return
		}
		if out, err := exec.Command(python, "testdata/oracle.py", "--bench", benchDir).CombinedOutput(); err != nil {
			benchErr = fmt.Errorf("oracle.py --bench: %v\n%s", err, out)
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	dir := benchDir
	files := []string{"rf1.onnx", "rf100.onnx", "xgb100.json"}
	models := make([]*Model, len(files))
	for i, f := range files {
		m, err := Load(filepath.Join(dir, f))
		if err != nil {
			b.Fatal(err)
		}
		models[i] = m
	}
	r := rand.New(rand.NewPCG(1, 2))
	rows := make([][]float64, 1024)
	for i := range rows {
		rows[i] = make([]float64, 22)
		for j := range rows[i] {
			rows[i][j] = r.Float64()
		}
	}
	elapsed := make([]time.Duration, len(models))
	scratch := make([]float64, 0, 16)
	b.ReportAllocs()
	b.ResetTimer()
	for j, m := range models {
		start := time.Now()
		for i := 0; i < b.N; i++ {
			m.Predict(rows[i%len(rows)], scratch)
		}
		elapsed[j] = time.Since(start)
	}
	b.StopTimer()
	for j, f := range files {
		b.ReportMetric(float64(elapsed[j].Nanoseconds())/float64(b.N), f+"-ns/pred")
		if j > 0 {
			b.ReportMetric(elapsed[j].Seconds()/elapsed[0].Seconds(), f+"-vs-1tree")
		}
	}
	b.ReportMetric(0, "ns/op")
}
