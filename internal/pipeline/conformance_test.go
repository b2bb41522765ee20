package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/meter"
	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// nfstreamDefaults is NFStream's configuration with the given features.
func nfstreamDefaults(sources []string, acc features.AccountingMode, stats bool, splt int) FileConfig {
	return FileConfig{
		Sources: sources,
		Common: Common{
			Decode: decode.Options{DecodeTunnels: true},
			Meter: meter.Config{
				Features:      features.Config{Accounting: acc, Stats: stats, SPLT: splt},
				IdleTimeout:   120_000,
				ActiveTimeout: 1_800_000,
			},
		},
	}
}

// runCSV runs cfg and returns our CSV output parsed.
func runCSV(t testing.TB, cfg FileConfig, schema features.Schema) (*corpus.Table, Stats, error) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Run(context.Background(), cfg, output.NewCSV(&buf, "buffer"), schema.Columns())
	tab, perr := corpus.ParseCSV(buf.String())
	if perr != nil {
		t.Fatalf("our CSV does not parse: %v", perr)
	}
	return tab, st, err
}

// exceptions reads testdata/conformance-exceptions.txt: captures that cannot
// match NFStream, one per line as "name<TAB>reason".
func exceptions(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(corpus.RepoRoot(t), "testdata", "conformance-exceptions.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, ok := strings.Cut(line, "\t")
		if !ok || strings.TrimSpace(reason) == "" {
			t.Fatalf("conformance-exceptions.txt: %q: want name<TAB>reason", line)
		}
		out[name] = reason
	}
	if len(out) > 3 {
		t.Fatalf("conformance-exceptions.txt lists %d captures; at most 3 may be excused", len(out))
	}
	return out
}

// compareTables compares the named columns of ours and theirs row by row
// and returns the first difference.
func compareTables(ours, theirs *corpus.Table, cols []string) error {
	if len(ours.Rows) != len(theirs.Rows) {
		return fmt.Errorf("%d flows, NFStream has %d", len(ours.Rows), len(theirs.Rows))
	}
	for _, c := range cols {
		oi, ti := ours.Col(c), theirs.Col(c)
		if oi < 0 || ti < 0 {
			return fmt.Errorf("column %s missing (ours %d, theirs %d)", c, oi, ti)
		}
		for r := range ours.Rows {
			if ours.Rows[r][oi] != theirs.Rows[r][ti] {
				return fmt.Errorf("row %d column %s: ours %q, NFStream %q", r, c, ours.Rows[r][oi], theirs.Rows[r][ti])
			}
		}
	}
	return nil
}

// conform runs every corpus capture with cfg and compares the given columns
// with NFStream's file in folder (results, full or full-ip).
func conform(t *testing.T, folder string, suffix string, mkcfg func(string) FileConfig, schema features.Schema, cols func(*corpus.Table) []string) {
	dir := corpus.Dir(t)
	excused := exceptions(t)
	caps := corpus.Captures(t, dir)
	match, excusedSeen := 0, 0
	for _, c := range caps {
		theirs, err := corpus.ReadCSV(filepath.Join(dir, folder, c.Name+suffix))
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		ours, _, runErr := runCSV(t, mkcfg(c.Path), schema)
		diff := compareTables(ours, theirs, cols(theirs))
		if diff == nil {
			match++
			if _, ok := excused[c.Name]; ok {
				t.Errorf("%s matches NFStream but is listed in conformance-exceptions.txt: remove it", c.Name)
			}
			continue
		}
		if reason, ok := excused[c.Name]; ok {
			excusedSeen++
			t.Logf("%s: excused (%s): %v", c.Name, reason, diff)
			continue
		}
		t.Errorf("%s: %v (run error: %v)", c.Name, diff, runErr)
	}
	fmt.Printf("conformance %s: %d of %d captures match NFStream (%d excused in testdata/conformance-exceptions.txt)\n",
		folder, match, len(caps), excusedSeen)
}

// TestConformanceResults checks id, bidirectional_packets and
// bidirectional_bytes of every corpus capture against NFStream's results/
// files (NFStream's defaults, one meter).
func TestConformanceResults(t *testing.T) {
	conform(t, "results", "", func(p string) FileConfig {
		return nfstreamDefaults([]string{p}, features.AccountLink, false, 0)
	}, features.Schema{Tunnel: true}, func(*corpus.Table) []string {
		return []string{"id", "bidirectional_packets", "bidirectional_bytes"}
	})
}

// nonDPIColumns lists NFStream's columns that do not come from nDPI.
func nonDPIColumns(t *corpus.Table) []string {
	var cols []string
	for _, h := range t.Header {
		if h == "application_name" {
			break
		}
		cols = append(cols, h)
	}
	return cols
}

// TestConformanceFull checks every non-nDPI column (floats as text, so
// exactly) against NFStream's full/ output (--stats --splt 10).
func TestConformanceFull(t *testing.T) {
	conform(t, "full", ".csv", func(p string) FileConfig {
		return nfstreamDefaults([]string{p}, features.AccountLink, true, 10)
	}, features.Schema{Tunnel: true, Stats: true, SPLT: true}, nonDPIColumns)
}

// TestConformanceFullIP does the same against full-ip/ (--accounting-mode
// ip --n-dissections 0 --stats --splt 10).
func TestConformanceFullIP(t *testing.T) {
	conform(t, "full-ip", ".csv", func(p string) FileConfig {
		return nfstreamDefaults([]string{p}, features.AccountIP, true, 10)
	}, features.Schema{Tunnel: true, Stats: true, SPLT: true}, nonDPIColumns)
}
