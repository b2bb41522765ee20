package pipeline

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/model"
	"github.com/nfstream-go/nfstream/internal/plugin"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// BenchmarkModels measures, in the same run, one meter (--n-dissections 0
// --stats --splt 10, counting sink) on the large generated capture with no
// model, with a plugin that does nothing, with a 100-tree depth-8 XGBoost
// forest predicting at expiry
// (--model), and with the same forest predicting at 5 packets
// (--model-at), and reports packets/s and flows/s of each and their ratios
// to the run without a model: over all rounds, between the best round of
// each, and by the CPU time the process used (the steadiest of the three
// on a machine shared with other work; docs/models.md section 6). The
// forest is
// written by testdata/models/oracle.py with /usr/bin/python3 and XGBoost;
// the benchmark skips without them. Run it with -benchtime 3x or more.
func BenchmarkModels(b *testing.B) {
	path, _ := largeCapture(b)
	// Kept beside the generated capture for the next run (it takes Python
	// a minute); written under another name first so a file there is
	// always whole.
	file := filepath.Join(os.TempDir(), "nfstream-bench-forest-100x8.json")
	if _, err := os.Stat(file); err != nil {
		tmp := fmt.Sprintf("%s.%d.json", file, os.Getpid())
		script := filepath.Join(corpus.RepoRoot(b), "testdata", "models", "oracle.py")
		if out, err := exec.Command("/usr/bin/python3", script, "forest", tmp, "100", "8").CombinedOutput(); err != nil {
			os.Remove(tmp)
			b.Skipf("cannot write the forest with /usr/bin/python3 and XGBoost: %v: %s", err, out)
		}
		if err := os.Rename(tmp, file); err != nil {
			b.Fatal(err)
		}
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
	// A plugin that does nothing (a flow slicer that never cuts) shows
	// what the plugin path costs before any model.
	noop, err := plugin.LoadBuiltin("flow_slicer", []plugin.Arg{{Name: "limit", Value: int64(1 << 62)}})
	if err != nil {
		b.Fatal(err)
	}
	runs := []struct {
		name    string
		plugins []plugin.Factory
	}{{"none", nil}, {"noop", []plugin.Factory{noop}}, {"model", []plugin.Factory{atExpiry}}, {"early", []plugin.Factory{early}}}
	elapsed, best, cpu := make([]time.Duration, len(runs)), make([]time.Duration, len(runs)), make([]time.Duration, len(runs))
	var packets, flows uint64
	for i := 0; i < b.N; i++ {
		for j, r := range runs {
			cfg := nfstreamDefaults([]string{path}, features.AccountLink, true, 10)
			cfg.Meter.Plugins = r.plugins
			if r.plugins != nil {
				cfg.Meter.PluginColumns = schema.Columns()
			}
			start, cpu0 := time.Now(), cpuTime()
			st, err := Run(context.Background(), cfg, &countSink{}, schema.Columns())
			d := time.Since(start)
			cpu[j] += cpuTime() - cpu0
			elapsed[j] += d
			if best[j] == 0 || d < best[j] {
				best[j] = d
			}
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
			b.ReportMetric(best[0].Seconds()/best[j].Seconds(), r.name+"-ratio-best")
			b.ReportMetric(cpu[0].Seconds()/cpu[j].Seconds(), r.name+"-ratio-cpu")
		}
	}
	b.ReportMetric(float64(m.NumTrees()), "trees")
	b.ReportMetric(parallelism(), "cores")
	b.ReportMetric(0, "ns/op")
}

// cpuTime is the CPU time the process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
