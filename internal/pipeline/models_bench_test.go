package pipeline

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/model"
	"github.com/nfstream-go/nfstream/internal/plugin"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// BenchmarkModels measures, in the same run, one meter (--n-dissections 0
// --stats --splt 10, counting sink) on the large generated capture with no
// model, with a 100-tree depth-8 XGBoost forest predicting at expiry
// (--model), and with the same forest predicting at 5 packets
// (--model-at), and reports packets/s and flows/s of each and their ratios
// to the run without a model (docs/models.md section 6). The forest is
// written by testdata/models/oracle.py with /usr/bin/python3 and XGBoost;
// the benchmark skips without them. Run it with -benchtime 1x or more.
func BenchmarkModels(b *testing.B) {
	path, _ := largeCapture(b)
	file := filepath.Join(b.TempDir(), "forest.json")
	script := filepath.Join(corpus.RepoRoot(b), "testdata", "models", "oracle.py")
	if out, err := exec.Command("/usr/bin/python3", script, "forest", file, "100", "8").CombinedOutput(); err != nil {
		b.Skipf("cannot write the forest with /usr/bin/python3 and XGBoost: %v: %s", err, out)
	}
	m, err := model.Load(file)
	if err != nil {
		b.Fatal(err)
	}
	schema := features.Schema{Tunnel: true, Stats: true, SPLT: true}
	run := plugin.RunColumns{Schema: schema, SPLT: 10}
	atExpiry, err := plugin.NewModel(plugin.ModelConfig{Name: "m", File: file, Model: m}, run)
	if err != nil {
		b.Fatal(err)
	}
	early, err := plugin.NewModel(plugin.ModelConfig{Name: "m", File: file, Model: m, At: 5}, run)
	if err != nil {
		b.Fatal(err)
	}
	runs := []struct {
		name    string
		plugins []plugin.Factory
	}{{"none", nil}, {"model", []plugin.Factory{atExpiry}}, {"early", []plugin.Factory{early}}}
	elapsed := make([]time.Duration, len(runs))
	var packets, flows uint64
	for i := 0; i < b.N; i++ {
		for j, r := range runs {
			cfg := nfstreamDefaults([]string{path}, features.AccountLink, true, 10)
			cfg.Meter.Plugins = r.plugins
			if r.plugins != nil {
				cfg.Meter.PluginColumns = schema.Columns()
			}
			start := time.Now()
			st, err := Run(context.Background(), cfg, &countSink{}, schema.Columns())
			elapsed[j] += time.Since(start)
			if err != nil {
				b.Fatalf("%s: %v", r.name, err)
			}
			packets, flows = st.Packets, st.Flows
		}
	}
	for j, r := range runs {
		b.ReportMetric(float64(packets)*float64(b.N)/elapsed[j].Seconds(), r.name+"-pkts/s")
		b.ReportMetric(float64(flows)*float64(b.N)/elapsed[j].Seconds(), r.name+"-flows/s")
		if j > 0 {
			b.ReportMetric(elapsed[0].Seconds()/elapsed[j].Seconds(), r.name+"-ratio")
		}
	}
	b.ReportMetric(float64(m.NumTrees()), "trees")
	b.ReportMetric(parallelism(), "cores")
	b.ReportMetric(0, "ns/op")
}
