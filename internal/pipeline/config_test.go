package pipeline

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/meter"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// TestConfigValidate checks the file and live configs against a table of
// bad values: every error names its field, and Run and RunLive refuse the
// config before any work.
func TestConfigValidate(t *testing.T) {
	badCommon := []struct {
		field string
		c     Common
	}{
		{"Meter: meter: Dissections", Common{Meter: meter.Config{Dissections: meter.MaxDissections + 1}}},
		{"Meter: meter: Features.SPLT", Common{Meter: meter.Config{Features: features.Config{SPLT: meter.MaxSPLT + 1}}}},
		{"Meter: meter: IdleTimeout", Common{Meter: meter.Config{IdleTimeout: meter.MaxTimeout + 1}}},
		{"Meter.MaxActive", Common{Meter: meter.Config{MaxActive: 10}}},
	}
	for _, tc := range badCommon {
		file := FileConfig{Common: tc.c, Sources: []string{"x.pcap"}}
		live := LiveConfig{Common: tc.c}
		for kind, err := range map[string]error{"file": file.Validate(), "live": live.Validate()} {
			if err == nil || !strings.HasPrefix(err.Error(), "pipeline: "+tc.field) {
				t.Errorf("%s config, bad %s: error %v", kind, tc.field, err)
			}
		}
		if _, err := Run(context.Background(), file, &countSink{}, nil); err == nil {
			t.Errorf("Run accepted a bad %s", tc.field)
		}
		if _, err := RunLive(context.Background(), live, nil, &countSink{}, nil); err == nil {
			t.Errorf("RunLive accepted a bad %s", tc.field)
		}
	}
	for _, tc := range []struct {
		field string
		c     FileConfig
	}{
		{"Sources", FileConfig{}},
		{"Sources[1]", FileConfig{Sources: []string{"a.pcap", ""}}},
		{"Sources[2]", FileConfig{Sources: []string{"-", "a.pcap", "-"}}},
		{"Meters", FileConfig{Sources: []string{"a.pcap"}, Meters: -1}},
	} {
		if err := tc.c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "pipeline: "+tc.field+" ") && !strings.HasPrefix(err.Error(), "pipeline: "+tc.field+":") {
			t.Errorf("bad %s: error %v", tc.field, err)
		}
	}
	if _, err := RunLive(context.Background(), LiveConfig{}, nil, &countSink{}, nil); err == nil {
		t.Error("RunLive accepted no rings")
	}
	good := FileConfig{Sources: []string{"-", "a.pcap"}, Meters: 4,
		Common: Common{MaxActiveFlows: 10, Meter: meter.Config{Dissections: meter.MaxDissections, IdleTimeout: meter.MaxTimeout}}}
	if err := good.Validate(); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

// TestFileTelemetry checks that a run over files feeds the Telemetry as a
// live run does: its counters equal the run's packets and flows, with
// one meter and with several, and no kernel counters.
func TestFileTelemetry(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus.RepoRoot(t), "testdata", "*.pcap*"))
	if len(files) == 0 {
		t.Skip("no generated captures in testdata")
	}
	for _, meters := range []int{1, 3} {
		tel := new(Telemetry)
		cfg := nfstreamDefaults(files[:1], features.AccountLink, false, 0)
		cfg.Meters, cfg.Telemetry = meters, tel
		sink := &countSink{}
		st, err := Run(context.Background(), cfg, sink, features.Schema{}.Columns())
		if err != nil {
			t.Fatal(err)
		}
		s := tel.Snapshot()
		var balance uint64
		for _, b := range s.Balance {
			balance += b
		}
		if s.PacketsProcessed+s.PacketsIgnored != st.Packets || s.PacketsIgnored != st.Ignored || s.FlowsExpired != st.Flows ||
			s.FlowsExpired != sink.n || balance != st.Processed || len(s.Balance) != meters || s.ActiveFlows != 0 ||
			s.PacketsDropped != 0 || s.PacketsReceived != 0 || s.Bytes == 0 {
			t.Errorf("%d meters: snapshot %+v; run %+v, %d flows written", meters, s, st, sink.n)
		}
	}
}

// TestFilePacketLimit checks that MaxPackets stops a run over files and
// the summary says so.
func TestFilePacketLimit(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus.RepoRoot(t), "testdata", "*.pcap*"))
	if len(files) == 0 {
		t.Skip("no generated captures in testdata")
	}
	cfg := nfstreamDefaults(files[:1], features.AccountLink, false, 0)
	cfg.MaxPackets = 3
	st, err := Run(context.Background(), cfg, &countSink{}, features.Schema{}.Columns())
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets != 3 || !st.PacketLimitReached || !strings.Contains(st.LimitNotes(), "stopped at -c 3 packets") {
		t.Errorf("stats %+v, notes %q", st, st.LimitNotes())
	}
}
