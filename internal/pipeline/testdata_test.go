package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output (after the expected-flow checks pass)")

// expectedFile is the generator's <capture>.expected.json: the flows the
// generator computed from what it built, independently of this program.
type expectedFile struct {
	Capture        string                       `json:"capture"`
	Packets        int                          `json:"packets"`
	IgnoredPackets int                          `json:"ignored_packets"`
	Flows          []map[string]json.RawMessage `json:"flows"`
}

type expectedPacket struct {
	Direction     uint8  `json:"direction"`
	TimeMS        uint64 `json:"time_ms"`
	RawSize       uint64 `json:"raw_size"`
	IPSize        uint64 `json:"ip_size"`
	TransportSize uint64 `json:"transport_size"`
	PayloadSize   uint64 `json:"payload_size"`
	TCPFlags      uint8  `json:"tcp_flags"`
}

func (p expectedPacket) size(m features.AccountingMode) uint64 {
	return [4]uint64{p.RawSize, p.IPSize, p.TransportSize, p.PayloadSize}[m]
}

var modeKeys = [4]string{"0_raw", "1_ip", "2_transport", "3_payload"}

func generated(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(corpus.RepoRoot(t), "testdata", "*.expected.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.expected.json (run go run ./scripts/gencaptures): %v", err)
	}
	return files
}

// TestGeneratedCaptures runs every generated capture in the four
// accounting modes with --stats --splt 10 and checks every core column
// against the generator's expected flows, and the statistics and SPLT
// against values computed here from the generator's packet list.
func TestGeneratedCaptures(t *testing.T) {
	for _, exp := range generated(t) {
		var want expectedFile
		b, err := os.ReadFile(exp)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("%s: %v", exp, err)
		}
		capPath := filepath.Join(filepath.Dir(exp), want.Capture)
		t.Run(want.Capture, func(t *testing.T) {
			for mode := features.AccountLink; mode <= features.AccountPayload; mode++ {
				cfg := nfstreamDefaults([]string{capPath}, mode, true, 10)
				tab, st, err := runCSV(t, cfg, features.Schema{Tunnel: true, Stats: true, SPLT: true})
				if err != nil {
					t.Fatalf("mode %d: %v", mode, err)
				}
				if st.Packets != uint64(want.Packets) || st.Ignored != uint64(want.IgnoredPackets) {
					t.Errorf("mode %d: %d packets, %d ignored; want %d, %d", mode, st.Packets, st.Ignored, want.Packets, want.IgnoredPackets)
				}
				if len(tab.Rows) != len(want.Flows) {
					t.Fatalf("mode %d: %d flows, want %d", mode, len(tab.Rows), len(want.Flows))
				}
				for i, flow := range want.Flows {
					checkFlow(t, mode, tab, tab.Rows[i], flow)
				}
			}
		})
	}
}

func checkFlow(t *testing.T, mode features.AccountingMode, tab *corpus.Table, row []string, flow map[string]json.RawMessage) {
	t.Helper()
	get := func(col string) string {
		i := tab.Col(col)
		if i < 0 {
			t.Fatalf("no column %s", col)
		}
		return row[i]
	}
	id := get("id")
	for col, raw := range flow {
		if col == "packets" || col == "note" || col == "bytes_by_accounting_mode" || strings.HasSuffix(col, "_bytes") {
			continue
		}
		var v any
		json.Unmarshal(raw, &v)
		want := fmt.Sprint(v)
		if f, ok := v.(float64); ok {
			want = strconv.FormatUint(uint64(f), 10)
		}
		if got := get(col); got != want {
			t.Errorf("mode %d flow %s: %s = %s, want %s", mode, id, col, got, want)
		}
	}
	var byMode map[string]map[string]uint64
	json.Unmarshal(flow["bytes_by_accounting_mode"], &byMode)
	for col, want := range byMode[modeKeys[mode]] {
		if got := get(col); got != strconv.FormatUint(want, 10) {
			t.Errorf("mode %d flow %s: %s = %s, want %d", mode, id, col, got, want)
		}
	}
	var pkts []expectedPacket
	json.Unmarshal(flow["packets"], &pkts)
	for col, want := range referenceFeatures(pkts, mode, 10) {
		got, err := strconv.ParseFloat(get(col), 64)
		if err != nil || math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("mode %d flow %s: %s = %s, want %v", mode, id, col, get(col), want)
		}
	}
	for col, want := range referenceSPLT(pkts, mode, 10) {
		if got := get(col); got != want {
			t.Errorf("mode %d flow %s: %s = %s, want %s", mode, id, col, got, want)
		}
	}
}

// referenceFeatures computes the statistical columns from a packet list
// with the textbook two-pass formulas (not Welford), as an independent
// check; the packet times are already clamped by the generator.
func referenceFeatures(pkts []expectedPacket, mode features.AccountingMode, _ int) map[string]float64 {
	out := map[string]float64{}
	scopes := map[string]func(expectedPacket) bool{
		"bidirectional": func(expectedPacket) bool { return true },
		"src2dst":       func(p expectedPacket) bool { return p.Direction == 0 },
		"dst2src":       func(p expectedPacket) bool { return p.Direction == 1 },
	}
	flagNames := []string{"fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr"} // TCP header bit order
	for name, in := range scopes {
		var sizes, gaps []float64
		var last uint64
		n := 0
		for _, p := range pkts {
			if !in(p) {
				continue
			}
			sizes = append(sizes, float64(p.size(mode)))
			if n > 0 {
				gaps = append(gaps, float64(p.TimeMS-last))
			}
			last = p.TimeMS
			n++
			for bit, f := range flagNames {
				if p.TCPFlags&(1<<bit) != 0 {
					out[name+"_"+f+"_packets"]++
				}
			}
		}
		for _, f := range flagNames {
			out[name+"_"+f+"_packets"] += 0
		}
		describe(out, name+"_", "_ps", sizes, 1)
		describe(out, name+"_", "_piat_ms", gaps, 1)
	}
	return out
}

// describe adds min, mean, stddev (sample) and max of xs; all 0 when empty.
func describe(out map[string]float64, prefix, suffix string, xs []float64, ddof int) {
	var mn, mx, sum, mean, sd float64
	if len(xs) > 0 {
		mn, mx = xs[0], xs[0]
		for _, x := range xs {
			mn, mx, sum = math.Min(mn, x), math.Max(mx, x), sum+x
		}
		mean = sum / float64(len(xs))
		if len(xs) > ddof {
			var ss float64
			for _, x := range xs {
				ss += (x - mean) * (x - mean)
			}
			sd = math.Sqrt(ss / float64(len(xs)-ddof))
		}
	}
	out[prefix+"min"+suffix], out[prefix+"mean"+suffix] = mn, mean
	out[prefix+"stddev"+suffix], out[prefix+"max"+suffix] = sd, mx
}

// referenceSPLT renders the SPLT columns of a packet list as NFStream's
// CSV text.
func referenceSPLT(pkts []expectedPacket, mode features.AccountingMode, n int) map[string]string {
	dir, ps, piat := make([]string, n), make([]string, n), make([]string, n)
	for i := 0; i < n; i++ {
		dir[i], ps[i], piat[i] = "-1", "-1", "-1"
		if i < len(pkts) {
			dir[i] = strconv.Itoa(int(pkts[i].Direction))
			ps[i] = strconv.FormatUint(pkts[i].size(mode), 10)
			gap := uint64(0)
			if i > 0 {
				gap = pkts[i].TimeMS - pkts[i-1].TimeMS
			}
			piat[i] = strconv.FormatUint(gap, 10)
		}
	}
	list := func(xs []string) string { return "[" + strings.Join(xs, ", ") + "]" }
	return map[string]string{"splt_direction": list(dir), "splt_ps": list(ps), "splt_piat_ms": list(piat)}
}

// TestGolden compares the CSV and JSONL output (--stats --splt 10) of every
// generated capture with testdata/golden byte for byte. The values in these
// files are those TestGeneratedCaptures checks independently; the golden
// files pin the text formatting. Rewrite them with -update.
func TestGolden(t *testing.T) {
	root := corpus.RepoRoot(t)
	schema := features.Schema{Tunnel: true, Stats: true, SPLT: true}
	for _, exp := range generated(t) {
		var want expectedFile
		b, _ := os.ReadFile(exp)
		json.Unmarshal(b, &want)
		capPath := filepath.Join(root, "testdata", want.Capture)
		for _, format := range []string{"csv", "jsonl"} {
			var buf bytes.Buffer
			var sink output.Sink = output.NewCSV(&buf, "buffer")
			if format == "jsonl" {
				sink = output.NewJSONL(&buf, "buffer")
			}
			cfg := nfstreamDefaults([]string{capPath}, features.AccountLink, true, 10)
			if _, err := Run(context.Background(), cfg, sink, schema.Columns()); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join(root, "testdata", "golden", strings.TrimSuffix(strings.TrimSuffix(want.Capture, ".pcap"), ".pcapng")+"."+format)
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			g, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/pipeline -run TestGolden -update)", err)
			}
			if !bytes.Equal(g, buf.Bytes()) {
				t.Errorf("%s differs from the output; if TestGeneratedCaptures passes and the change is intended, rerun with -update", golden)
			}
		}
	}
}
