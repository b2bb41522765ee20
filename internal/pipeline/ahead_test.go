package pipeline

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/plugin"
	"github.com/nfstream-go/nfstream/internal/testing/testgen"
)

// failingPlugin fails at the failAt-th flow it sees start.
type failingPlugin struct{ flows, failAt int }

var errPluginFailed = errors.New("failing plugin: boom")

func (p *failingPlugin) OnInit(*plugin.Packet, *plugin.Flow) error {
	if p.flows++; p.flows == p.failAt {
		return errPluginFailed
	}
	return nil
}
func (p *failingPlugin) OnUpdate(*plugin.Packet, *plugin.Flow) error { return nil }
func (p *failingPlugin) OnExpire(*plugin.Flow) error                 { return nil }

// TestMeterAheadFails: with a plugin, one meter meters on a goroutine of
// its own while the reader decodes ahead (direct.ahead). When the plugin
// fails in the middle of a capture, the run ends with its error, the
// reader stops soon after, and the flows that expired before are
// written; repeated, since where the reader is when the meter fails
// varies from run to run.
func TestMeterAheadFails(t *testing.T) {
	path, err := testgen.LargeFile(t.TempDir(), testgen.LargeConfig{Packets: 60_000, Flows: 6000, Concurrent: 300, PacketsPerSecond: 300})
	if err != nil {
		t.Fatal(err)
	}
	cols := features.Schema{Tunnel: true}.Columns()
	cfg := nfstreamDefaults([]string{path}, features.AccountLink, false, 0)
	cfg.Meter.IdleTimeout = 1000
	all, err := Run(context.Background(), cfg, output.NewCSV(&bytes.Buffer{}, "buffer"), cols)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		failAt := 1000 + 97*i
		cfg.Meter.Plugins = []plugin.Factory{{Name: "failing", New: func() (plugin.Plugin, error) { return &failingPlugin{failAt: failAt}, nil }}}
		var buf bytes.Buffer
		st, err := Run(context.Background(), cfg, output.NewCSV(&buf, "buffer"), cols)
		if !errors.Is(err, errPluginFailed) {
			t.Fatalf("plugin failing at flow %d: error %v; want the plugin's", failAt, err)
		}
		if st.Flows == 0 || st.Flows >= uint64(failAt) || st.Packets >= all.Packets {
			t.Errorf("plugin failing at flow %d: %d flows written, %d of %d packets read", failAt, st.Flows, st.Packets, all.Packets)
		}
	}
}
