package pipeline

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/plugin"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// BenchmarkPlugins measures, in the same run, the packet rate of one meter
// (--n-dissections 0, counting sink) on the large generated capture with
// no plugin, with the built-in splt plugin (Go) and with the example
// Starlark plugin of testdata/plugins, and reports the two plugin runs'
// rates as ratios to the run without. Run it with -benchtime 1x or more.
func BenchmarkPlugins(b *testing.B) {
	path, _ := largeCapture(b)
	schema := features.Schema{Tunnel: true}
	splt, err := plugin.LoadBuiltin("splt", []plugin.Arg{{Name: "sequence_length", Value: int64(10)}})
	if err != nil {
		b.Fatal(err)
	}
	example, err := plugin.LoadStarlark(filepath.Join(corpus.RepoRoot(b), "testdata", "plugins", "example.star"), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	runs := []struct {
		name    string
		plugins []plugin.Factory
	}{{"none", nil}, {"splt", []plugin.Factory{splt}}, {"starlark", []plugin.Factory{example}}}
	elapsed := make([]time.Duration, len(runs))
	var packets uint64
	for i := 0; i < b.N; i++ {
		for j, r := range runs {
			cfg := nfstreamDefaults([]string{path}, features.AccountLink, false, 0)
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
			packets = st.Packets
		}
	}
	for j, r := range runs {
		b.ReportMetric(float64(packets)*float64(b.N)/elapsed[j].Seconds(), r.name+"-pkts/s")
		if j > 0 {
			b.ReportMetric(elapsed[0].Seconds()/elapsed[j].Seconds(), r.name+"-ratio")
		}
	}
	b.ReportMetric(parallelism(), "cores")
	b.ReportMetric(0, "ns/op")
}
