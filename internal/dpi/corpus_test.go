//go:build cgo

package dpi

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// TestFacebookCorpus checks NFStream's test_fingerprint_extraction
// (docs/nfstream-semantics.md 2.6 and 9) on facebook.pcap: two TLS flows, each
// dissected with NFStream's default budget of 20 packets.
func TestFacebookCorpus(t *testing.T) {
	pkts, n := readCapture(t, corpusCapture(t, "facebook.pcap"))
	if n != 2 {
		t.Fatalf("%d flows, want 2", n)
	}
	e := newEngine(t)
	for i, d := range dissect(e, pkts, n, 20) {
		t.Logf("flow %d: %d packets, %d dissected: %+v", i, d.Packets, d.Fed, d.Info)
		if d.Application != "TLS.Facebook" || d.Category != "SocialNetwork" || d.Guessed || d.Confidence != 6 {
			t.Errorf("flow %d: %s / %s / guessed %v / confidence %d, want TLS.Facebook / SocialNetwork / false / 6",
				i, d.Application, d.Category, d.Guessed, d.Confidence)
		}
		if !slices.Contains([]string{"facebook.com", "www.facebook.com"}, d.RequestedServerName) {
			t.Errorf("flow %d: SNI %q", i, d.RequestedServerName)
		}
		if !slices.Contains([]string{"bfcc1a3891601edb4f137ab7ab25b840", "5c60e71f1b8cd40e4d40ed5b6d666e3f"}, d.ClientFingerprint) {
			t.Errorf("flow %d: JA3 %q", i, d.ClientFingerprint)
		}
		if !slices.Contains([]string{"2d1eb5817ece335c24904f516ad5da12", "96681175a9547081bf3d417f1a572091"}, d.ServerFingerprint) {
			t.Errorf("flow %d: JA3S %q", i, d.ServerFingerprint)
		}
		if d.UserAgent != "" || d.ContentType != "" {
			t.Errorf("flow %d: user agent %q, content type %q, want empty", i, d.UserAgent, d.ContentType)
		}
	}
}

// TestCorpusFingerprints pins what nDPI 4.2 gives for the other
// fingerprint columns on corpus captures, and a known divergence from
// NFStream's nDPI.
func TestCorpusFingerprints(t *testing.T) {
	for _, tc := range []struct {
		capture string
		flow    int
		want    dissected
	}{
		// HASSH client and server of the one SSH flow.
		{"ssh.pcap", 0, dissected{Info: Info{Application: "SSH", Category: "RemoteAccess", Confidence: 6,
			ClientFingerprint: "21B457A327CE7A2D4FCE5EF2C42400BD", ServerFingerprint: "B1C6C0D56317555B85C7005A3DE29325"}}},
		// The DHCP request's parameter list, the same 1,3,6,42 that
		// NFStream's DHCP plugin test reads as dhcp_55.
		{"dhcp.pcap", 0, dissected{Info: Info{Application: "DHCP", Category: "Network", Confidence: 6,
			ClientFingerprint: "1,3,6,42"}}},
		// QUIC: SNI and the user agent from the client hello.
		{"quic.pcap", 0, dissected{Info: Info{Application: "QUIC.GMail", Category: "Email", Confidence: 6,
			RequestedServerName: "mail.google.com", UserAgent: "beta Chrome/43.0.2357.45"}}},
		// google_ssl.pcap starts mid-handshake. NFStream's nDPI guesses by
		// port: TLS, Web, guessed, confidence 1 (match by port). nDPI 4.2's
		// giveup also matches the server address to Google: TLS.Google,
		// guessed, confidence 7 (match by IP).
		{"google_ssl.pcap", 0, dissected{Info: Info{Application: "TLS.Google", Category: "Web", Confidence: 7}, Guessed: true}},
	} {
		t.Run(tc.capture, func(t *testing.T) {
			pkts, n := readCapture(t, corpusCapture(t, tc.capture))
			e := newEngine(t)
			d := dissect(e, pkts, n, 20)[tc.flow]
			if d.Info != tc.want.Info || d.Guessed != tc.want.Guessed {
				t.Errorf("flow %d: %+v guessed %v\nwant    %+v guessed %v", tc.flow, d.Info, d.Guessed, tc.want.Info, tc.want.Guessed)
			}
		})
	}
}

// TestCorpusAgreement compares, over NFStream's test corpus, the four L7
// columns of NFStream's result files (application_name,
// application_category_name, application_is_guessed,
// application_confidence) with what this package gives with nDPI 4.2 under
// NFStream's budget of 20 packets. Flows are grouped without timeouts, so
// only captures whose flows come out with NFStream's packet counts, in
// NFStream's order, are compared. The L7 columns may differ where the nDPI
// versions differ (docs/compatibility.md item 1): the test reports the agreement and
// fails only if it falls below what nDPI 4.2 reaches today.
func TestCorpusAgreement(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the whole corpus")
	}
	dir := corpus.Dir(t)
	var flows, same, captures, skipped int
	columns := make([]int, 4)
	confusion := map[string]int{}
	for _, c := range corpus.Captures(t, dir) {
		tab, err := corpus.ReadCSV(filepath.Join(dir, "results", c.Name))
		if err != nil {
			t.Fatal(err)
		}
		pkts, n := readCapture(t, c.Path)
		if n != len(tab.Rows) {
			skipped++
			continue
		}
		e := newEngine(t)
		got := dissect(e, pkts, n, 20)
		e.Close()
		cols := []int{tab.Col("bidirectional_packets"), tab.Col("application_name"),
			tab.Col("application_category_name"), tab.Col("application_is_guessed"), tab.Col("application_confidence")}
		aligned := true
		for i, row := range tab.Rows {
			if row[cols[0]] != strconv.Itoa(got[i].Packets) {
				aligned = false
				break
			}
		}
		if !aligned {
			skipped++
			continue
		}
		captures++
		for i, row := range tab.Rows {
			d := got[i]
			ours := []string{d.Application, d.Category, fmt.Sprint(b2i(d.Guessed)), fmt.Sprint(d.Confidence)}
			flows++
			all := true
			for k := range ours {
				if ours[k] == row[cols[k+1]] {
					columns[k]++
				} else {
					all = false
				}
			}
			if all {
				same++
			} else if testing.Verbose() {
				t.Logf("%s flow %d: NFStream %s/%s/%s/%s, nDPI 4.2 %s/%s/%s/%s", c.Name, i,
					row[cols[1]], row[cols[2]], row[cols[3]], row[cols[4]], ours[0], ours[1], ours[2], ours[3])
			}
			confusion[row[cols[4]]+"->"+ours[3]]++
		}
	}
	if flows == 0 {
		t.Skip("no corpus capture could be aligned")
	}
	pct := func(n int) float64 { return 100 * float64(n) / float64(flows) }
	t.Logf("%d captures compared (%d skipped: flows split differently without timeouts), %d flows", captures, skipped, flows)
	t.Logf("all four columns equal: %d (%.1f%%); application_name %.1f%%, category %.1f%%, guessed %.1f%%, confidence %.1f%%",
		same, pct(same), pct(columns[0]), pct(columns[1]), pct(columns[2]), pct(columns[3]))
	t.Logf("confidence NFStream->ours: %v", confusion)
	// Floors a little under today's figures: a drop means the binding, not
	// nDPI, changed.
	if pct(same) < 80 || pct(columns[3]) < 93 {
		t.Errorf("agreement with NFStream fell: %.1f%% of flows, %.1f%% of confidences", pct(same), pct(columns[3]))
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
