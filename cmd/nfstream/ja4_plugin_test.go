package main

import (
	"encoding/csv"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// parseCSV reads a CSV file's text; NFStream's backslash-escaped inner
// quotes are made standard first.
func parseCSV(t *testing.T, name, text string) [][]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(strings.ReplaceAll(text, `\"`, `""`)))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return rows
}

// ja4Excepted reports whether the flow row (NFStream's columns hdr) is one
// of the 6 flows of instagram.pcap where NFStream's JA4 differs from the
// specification's: the ClientHellos of 192.168.2.17 ports 49355-49361
// offer the private (non-standard) TLS version 0xfb1a. The JA4
// specification gives a version it does not know the code "00" (so we
// write "t00..."), while NFStream writes "24925" there ("t24925..."); the
// rest of the fingerprint is the same.
func ja4Excepted(capture string, hdr, row []string) bool {
	if capture != "instagram.pcap" {
		return false
	}
	col := func(n string) string {
		if i := slices.Index(hdr, n); i >= 0 && i < len(row) {
			return row[i]
		}
		return ""
	}
	port, _ := strconv.Atoi(col("src_port"))
	return col("src_ip") == "192.168.2.17" && port >= 49355 && port <= 49361
}

// TestPluginJA4Corpus runs every corpus capture with --plugin ja4 and
// compares with NFStream's JA4() output: every column but the udps ones
// equal row for row; udps.ja4 equal wherever NFStream has a value (but the
// instagram.pcap flows of ja4Excepted); NFStream's udps.ja4s (JA4S, not
// implemented here: its licence is not ours) is dropped. Where NFStream has
// no value and we have one (IPv6 flows, QUIC, TCP flows whose SYN was not
// captured: NFStream's plugin does not fingerprint these) the flows are
// only counted here: those fingerprints are checked against tshark's
// independently by internal/plugin/ja4's TestCorpusTshark.
func TestPluginJA4Corpus(t *testing.T) {
	var captures, flows, equal, added, excepted int
	pluginCorpus(t, "ja4", func(name, pcap, expected string) {
		exp := parseCSV(t, name+".csv", expected)
		res := runNFStream(t, nil, "-r", pcap, "--n-dissections", "0", "-q", "-o", "-", "--plugin", "ja4")
		if res.code != 0 {
			t.Errorf("%s: exit %d: %s", name, res.code, res.stderr)
			return
		}
		got := parseCSV(t, name+" (ours)", res.stdout)
		if len(got) != len(exp) || len(exp) == 0 {
			t.Errorf("%s: %d rows, want %d", name, len(got), len(exp))
			return
		}
		// NFStream's header without udps.ja4s must be ours.
		s := slices.Index(exp[0], "udps.ja4s")
		drop := func(r []string) []string {
			if s >= 0 && s < len(r) {
				return slices.Delete(slices.Clone(r), s, s+1)
			}
			return r
		}
		hdr := drop(exp[0])
		if !slices.Equal(got[0], hdr) {
			t.Errorf("%s: header\n got %v\nwant %v", name, got[0], hdr)
			return
		}
		j := slices.Index(hdr, "udps.ja4")
		if j < 0 {
			t.Fatalf("%s: no udps.ja4 column", name)
		}
		ok := true
		for i := 1; i < len(got); i++ {
			g, w := got[i], drop(exp[i])
			if len(g) != len(hdr) || len(w) != len(hdr) {
				t.Errorf("%s row %d: %d fields (NFStream's %d), want %d", name, i, len(g), len(w), len(hdr))
				ok = false
				continue
			}
			for k := range hdr {
				if k != j && g[k] != w[k] {
					t.Errorf("%s row %d: %s = %q, NFStream's %q", name, i, hdr[k], g[k], w[k])
					ok = false
				}
			}
			switch {
			case g[j] == w[j]:
				if w[j] != "" {
					equal++
				}
			case w[j] == "":
				added++
			case ja4Excepted(name, hdr, w):
				excepted++
				t.Logf("%s row %d: udps.ja4 %q, NFStream's %q (excepted)", name, i, g[j], w[j])
			default:
				t.Errorf("%s row %d: udps.ja4 = %q, NFStream's %q", name, i, g[j], w[j])
				ok = false
			}
		}
		if ok {
			captures++
			flows += len(got) - 1
		}
	})
	t.Logf("ja4: %d captures, %d flows as NFStream's; udps.ja4: %d equal to NFStream's, %d added where NFStream has none, %d excepted",
		captures, flows, equal, added, excepted)
	if excepted > 6 {
		t.Errorf("%d excepted flows, want at most 6", excepted)
	}
}
