package meter

import (
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/plugin"
)

// counter is a Go plugin counting a flow's packets in udps.n and
// expiring flows after limit packets (0: never).
type counter struct{ limit int64 }

func (c *counter) OnInit(p *plugin.Packet, f *plugin.Flow) error {
	f.UDPS.Set("n", int64(1), "counter")
	return nil
}

func (c *counter) OnUpdate(p *plugin.Packet, f *plugin.Flow) error {
	v, _ := f.UDPS.Get("n")
	n := v.(int64) + 1
	f.UDPS.Set("n", n, "counter")
	if n == c.limit {
		return f.SetExpirationID(-1)
	}
	return nil
}

func (c *counter) OnExpire(f *plugin.Flow) error { return nil }

func withCounter(cfg Config, limit int64) Config {
	cfg.Plugins = []plugin.Factory{{Name: "counter", New: func() (plugin.Plugin, error) { return &counter{limit}, nil }}}
	cfg.PluginColumns = features.Schema{Stats: true, SPLT: true}.Columns()
	return cfg
}

// TestPluginCustomExpiry: a plugin setting expiration_id -1 after 3
// packets cuts a 7-packet flow into 3 + 3 + 1, each with its own udps.
func TestPluginCustomExpiry(t *testing.T) {
	pkts := synthetic(2)
	var got [][2]int64
	m := mustNew(withCounter(config(), 3), func(r *features.Record) error {
		n, _ := r.UDPS.Get("n")
		got = append(got, [2]int64{int64(r.ExpirationID), n.(int64)})
		if r.Bidirectional.Packets != uint64(n.(int64)) {
			t.Errorf("record of %d packets has udps.n %v", r.Bidirectional.Packets, n)
		}
		return nil
	})
	for i := range 7 {
		if err := m.Process(&pkts[i%2], uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	m.Flush()
	want := [][2]int64{{-1, 3}, {-1, 3}, {0, 1}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("exports %v, want %v", got, want)
	}
}

// BenchmarkProcessPlugin is BenchmarkProcess with a trivial Go plugin:
// the cost of the hooks' machinery (views, udps values).
func BenchmarkProcessPlugin(b *testing.B) {
	pkts := synthetic(200_000)
	m := mustNew(withCounter(config(), 0), func(*features.Record) error { return nil })
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Process(&pkts[i%len(pkts)], uint64(i/1000))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}
