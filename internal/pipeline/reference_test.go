package pipeline

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// collector is a sink that keeps deep copies of the records.
type collector struct {
	cols []features.Column
	recs []features.Record
}

func (c *collector) Begin(cols []features.Column) error { c.cols = cols; return nil }
func (c *collector) Close() error                       { return nil }
func (c *collector) Write(r *features.Record) error {
	cp := r.Clone()
	c.recs = append(c.recs, cp)
	return nil
}

func collect(t *testing.T, cfg FileConfig) []features.Record {
	t.Helper()
	var c collector
	if _, err := Run(context.Background(), cfg, &c, nil); err != nil {
		t.Fatal(err)
	}
	return c.recs
}

func pcap(t *testing.T, name string) string {
	return filepath.Join(corpus.Dir(t), "pcaps", name)
}

// near is NFStream's own float check in test_statistical.
func near(got, want float64) bool { return math.Abs(got-want) < 0.001 }

// TestReferenceStatistics checks google_ssl.pcap with accounting mode ip
// and statistics on against docs/nfstream-semantics.md 2.4 and NFStream's
// test_statistical.
func TestReferenceStatistics(t *testing.T) {
	recs := collect(t, nfstreamDefaults([]string{pcap(t, "google_ssl.pcap")}, features.AccountIP, true, 0))
	if len(recs) != 1 {
		t.Fatalf("%d flows, want 1", len(recs))
	}
	r := &recs[0]
	ints := []struct {
		name      string
		got, want uint64
	}{
		{"id", r.ID, 0},
		{"src_port", uint64(r.SrcPort), 42835},
		{"dst_port", uint64(r.DstPort), 443},
		{"protocol", uint64(r.Protocol), 6},
		{"ip_version", uint64(r.IPVersion), 4},
		{"bidirectional_first_seen_ms", r.Bidirectional.FirstSeenMS, 1434443394683},
		{"bidirectional_last_seen_ms", r.Bidirectional.LastSeenMS, 1434443401353},
		{"dst2src_first_seen_ms", r.Dst2Src.FirstSeenMS, 1434443394717},
		{"dst2src_last_seen_ms", r.Dst2Src.LastSeenMS, 1434443401308},
		{"bidirectional_packets", r.Bidirectional.Packets, 28},
		{"src2dst_packets", r.Src2Dst.Packets, 16},
		{"dst2src_packets", r.Dst2Src.Packets, 12},
		{"bidirectional_bytes", r.Bidirectional.Bytes, 8696},
		{"src2dst_bytes", r.Src2Dst.Bytes, 1288},
		{"dst2src_bytes", r.Dst2Src.Bytes, 7408},
		{"bidirectional_min_ps", uint64(r.Bidirectional.PS.Min), 40},
		{"bidirectional_max_ps", uint64(r.Bidirectional.PS.Max), 1470},
		{"src2dst_min_ps", uint64(r.Src2Dst.PS.Min), 40},
		{"src2dst_max_ps", uint64(r.Src2Dst.PS.Max), 354},
		{"dst2src_min_ps", uint64(r.Dst2Src.PS.Min), 40},
		{"dst2src_max_ps", uint64(r.Dst2Src.PS.Max), 1470},
		{"bidirectional_min_piat_ms", r.Bidirectional.PIAT.Min, 0},
		{"bidirectional_max_piat_ms", r.Bidirectional.PIAT.Max, 995},
		{"src2dst_min_piat_ms", r.Src2Dst.PIAT.Min, 76},
		{"src2dst_max_piat_ms", r.Src2Dst.PIAT.Max, 1185},
		{"dst2src_min_piat_ms", r.Dst2Src.PIAT.Min, 66},
		{"dst2src_max_piat_ms", r.Dst2Src.PIAT.Max, 1213},
		{"bidirectional_syn_packets", r.FlagPackets(0, features.FlagIndexSYN), 2},
		{"src2dst_syn_packets", r.FlagPackets(1, features.FlagIndexSYN), 1},
		{"dst2src_syn_packets", r.FlagPackets(2, features.FlagIndexSYN), 1},
		{"bidirectional_ack_packets", r.FlagPackets(0, features.FlagIndexACK), 27},
		{"src2dst_ack_packets", r.FlagPackets(1, features.FlagIndexACK), 15},
		{"dst2src_ack_packets", r.FlagPackets(2, features.FlagIndexACK), 12},
		{"bidirectional_psh_packets", r.FlagPackets(0, features.FlagIndexPSH), 8},
		{"src2dst_psh_packets", r.FlagPackets(1, features.FlagIndexPSH), 4},
		{"dst2src_psh_packets", r.FlagPackets(2, features.FlagIndexPSH), 4},
		{"bidirectional_fin_packets", r.FlagPackets(0, features.FlagIndexFIN), 2},
		{"src2dst_fin_packets", r.FlagPackets(1, features.FlagIndexFIN), 1},
		{"dst2src_fin_packets", r.FlagPackets(2, features.FlagIndexFIN), 1},
		{"bidirectional_rst_packets", r.FlagPackets(0, features.FlagIndexRST), 0},
		{"bidirectional_urg_packets", r.FlagPackets(0, features.FlagIndexURG), 0},
		{"bidirectional_ece_packets", r.FlagPackets(0, features.FlagIndexECE), 0},
		{"bidirectional_cwr_packets", r.FlagPackets(0, features.FlagIndexCWR), 0},
	}
	for _, c := range ints {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	floats := []struct {
		name      string
		got, want float64
	}{
		{"bidirectional_mean_ps", r.Bidirectional.PS.Mean, 310.5714},
		{"bidirectional_stddev_ps", r.Bidirectional.PS.Stddev(r.Bidirectional.Packets), 500.5461},
		{"src2dst_mean_ps", r.Src2Dst.PS.Mean, 80.5},
		{"src2dst_stddev_ps", r.Src2Dst.PS.Stddev(r.Src2Dst.Packets), 89.5551},
		{"dst2src_mean_ps", r.Dst2Src.PS.Mean, 617.3333},
		{"dst2src_stddev_ps", r.Dst2Src.PS.Stddev(r.Dst2Src.Packets), 651.4524},
		{"bidirectional_mean_piat_ms", r.Bidirectional.PIAT.Mean, 247.0370},
		{"bidirectional_stddev_piat_ms", r.Bidirectional.PIATStddev(), 324.0459},
		{"src2dst_mean_piat_ms", r.Src2Dst.PIAT.Mean, 444.6666},
		{"src2dst_stddev_piat_ms", r.Src2Dst.PIATStddev(), 397.6032},
		{"dst2src_mean_piat_ms", r.Dst2Src.PIAT.Mean, 599.1818},
		{"dst2src_stddev_piat_ms", r.Dst2Src.PIATStddev(), 384.7845},
	}
	for _, c := range floats {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// The exact double the reference quotes: Welford's order gives
	// 80.49999999999999, not 80.5.
	if got := r.Src2Dst.PS.Mean; got != 80.49999999999999 {
		t.Errorf("src2dst_mean_ps = %v, want exactly 80.49999999999999", got)
	}
}

// TestReferenceSPLT checks google_ssl.pcap's first five packets
// (docs/nfstream-semantics.md 2.5, NFStream's test_splt).
func TestReferenceSPLT(t *testing.T) {
	recs := collect(t, nfstreamDefaults([]string{pcap(t, "google_ssl.pcap")}, features.AccountLink, false, 5))
	if len(recs) != 1 {
		t.Fatalf("%d flows, want 1", len(recs))
	}
	r := recs[0]
	if want := []int8{0, 1, 0, 0, 1}; !slices.Equal(r.SPLTDirection, want) {
		t.Errorf("splt_direction = %v, want %v", r.SPLTDirection, want)
	}
	if want := []int32{58, 60, 54, 180, 60}; !slices.Equal(r.SPLTPS, want) {
		t.Errorf("splt_ps = %v, want %v", r.SPLTPS, want)
	}
	if want := []int64{0, 34, 134, 144, 35}; !slices.Equal(r.SPLTPIAT, want) {
		t.Errorf("splt_piat_ms = %v, want %v", r.SPLTPIAT, want)
	}
}

// TestReferenceSPLTPadding checks that a flow shorter than the sequence is
// padded with -1.
func TestReferenceSPLTPadding(t *testing.T) {
	recs := collect(t, nfstreamDefaults([]string{pcap(t, "google_ssl.pcap")}, features.AccountLink, false, 30))
	r := recs[0]
	for i := 28; i < 30; i++ {
		if r.SPLTDirection[i] != -1 || r.SPLTPS[i] != -1 || r.SPLTPIAT[i] != -1 {
			t.Errorf("position %d = %d/%d/%d, want -1/-1/-1", i, r.SPLTDirection[i], r.SPLTPS[i], r.SPLTPIAT[i])
		}
	}
	if r.SPLTPS[27] == -1 {
		t.Errorf("position 27 is padding, want the 28th packet")
	}
}

// TestReferenceZeroTimeouts checks NFStream's test_expiration_management:
// with an idle or active timeout of 0 every packet of google_ssl.pcap is a
// flow of its own (last id 27).
func TestReferenceZeroTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name         string
		idle, active uint64
		reason       int8
	}{
		{"idle", 0, 1_800_000, features.ExpiredIdle},
		{"active", 120_000, 0, features.ExpiredActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := nfstreamDefaults([]string{pcap(t, "google_ssl.pcap")}, features.AccountLink, false, 0)
			cfg.Meter.IdleTimeout, cfg.Meter.ActiveTimeout = tc.idle, tc.active
			recs := collect(t, cfg)
			if len(recs) != 28 || recs[27].ID != 27 {
				t.Fatalf("%d flows, want 28 with last id 27", len(recs))
			}
			for _, r := range recs[:27] {
				if r.Bidirectional.Packets != 1 || r.ExpirationID != tc.reason {
					t.Fatalf("flow %d: %d packets, expiration %d; want 1 packet, expiration %d",
						r.ID, r.Bidirectional.Packets, r.ExpirationID, tc.reason)
				}
			}
		})
	}
}

// TestReferenceMultiFiles checks NFStream's test_multi_files: the four
// one_flow files read as one capture give the README's facebook flow.
func TestReferenceMultiFiles(t *testing.T) {
	var files []string
	for _, n := range []string{"one_flow_1_5.pcap", "one_flow_6_10.pcap", "one_flow_11_15.pcap", "one_flow_16_19.pcap"} {
		files = append(files, pcap(t, n))
	}
	recs := collect(t, nfstreamDefaults(files, features.AccountLink, false, 0))
	if len(recs) != 1 {
		t.Fatalf("%d flows, want 1", len(recs))
	}
	r := recs[0]
	got := [7]uint64{r.Bidirectional.Packets, r.Bidirectional.Bytes, r.Src2Dst.Packets, r.Src2Dst.Bytes,
		r.Dst2Src.Packets, r.Dst2Src.Bytes, r.Bidirectional.DurationMS()}
	if want := [7]uint64{19, 5745, 9, 1345, 10, 4400, 1300}; got != want {
		t.Errorf("packets/bytes/src2dst/dst2src/duration = %v, want %v", got, want)
	}
}

// TestReferenceMaxFlows checks NFStream's test_max_nflows on skype.pcap,
// with one meter and with several (the limit applies to the merged output).
func TestReferenceMaxFlows(t *testing.T) {
	for _, meters := range []int{1, 2, 4} {
		for _, tc := range []struct{ max, want int }{{0, 294}, {100, 100}} {
			cfg := nfstreamDefaults([]string{pcap(t, "skype.pcap")}, features.AccountLink, false, 0)
			cfg.MaxFlows, cfg.Meters = uint64(tc.max), meters
			recs := collect(t, cfg)
			if len(recs) != tc.want {
				t.Errorf("%d meters, max flows %d: %d flows, want %d", meters, tc.max, len(recs), tc.want)
			}
			for i, r := range recs {
				if r.ID != uint64(i) {
					t.Fatalf("flow %d has id %d", i, r.ID)
				}
			}
		}
	}
}

// TestReferenceTunnels checks NFStream's test_tunnel_decoding on
// gtp-u.pcap: with tunnel decoding every flow has tunnel_id 1; without it
// the capture is one flow and the column is gone.
func TestReferenceTunnels(t *testing.T) {
	cfg := nfstreamDefaults([]string{pcap(t, "gtp-u.pcap")}, features.AccountLink, true, 0)
	recs := collect(t, cfg)
	if len(recs) == 0 {
		t.Fatal("no flows")
	}
	for _, r := range recs {
		if r.TunnelID != 1 {
			t.Errorf("flow %d: tunnel_id %d, want 1", r.ID, r.TunnelID)
		}
	}
	if r := recs[0]; len(recs) != 1 || r.Bidirectional.Packets != 102 || r.Bidirectional.Bytes != 14076 || r.Protocol != 1 {
		t.Errorf("gtp-u.pcap: %d flows, first %d packets %d bytes protocol %d; want 1 ICMP flow, 102 packets, 14076 bytes",
			len(recs), r.Bidirectional.Packets, r.Bidirectional.Bytes, r.Protocol)
	}

	cfg.Decode.DecodeTunnels = false
	recs = collect(t, cfg)
	if len(recs) != 1 || recs[0].TunnelID != 0 {
		t.Errorf("without tunnel decoding: %d flows (tunnel %d), want 1 flow with no tunnel", len(recs), recs[0].TunnelID)
	}
	for _, c := range (features.Schema{Tunnel: false}).Columns() {
		if c.Name == "tunnel_id" {
			t.Error("tunnel_id column present without tunnel decoding")
		}
	}
}
