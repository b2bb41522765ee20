package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// csvBytes runs cfg with n meters and returns the CSV text.
func csvBytes(t *testing.T, cfg FileConfig, n int, schema features.Schema) []byte {
	t.Helper()
	cfg.Meters = n
	var buf bytes.Buffer
	if _, err := Run(context.Background(), cfg, output.NewCSV(&buf, "buffer"), schema.Columns()); err != nil {
		t.Fatalf("%d meters: %v", n, err)
	}
	return buf.Bytes()
}

// meterCaptures lists the generated captures and, when present, the corpus.
func meterCaptures(t *testing.T) []string {
	files, _ := filepath.Glob(filepath.Join(corpus.RepoRoot(t), "testdata", "*.pcap*"))
	if dir, ok := corpusDirIfPresent(t); ok {
		for _, c := range corpus.Captures(t, dir) {
			files = append(files, c.Path)
		}
	} else {
		t.Log("NFStream corpus absent: checking the generated captures only")
	}
	return files
}

func corpusDirIfPresent(t *testing.T) (dir string, ok bool) {
	ok = true
	t.Run("corpus", func(t *testing.T) {
		defer func() {
			if t.Skipped() {
				ok = false
			}
		}()
		dir = corpus.Dir(t)
	})
	return dir, ok
}

// TestMetersByteIdentical checks docs/compatibility.md item 5: without
// dissection, 2 and 4 meters write exactly the bytes one meter writes.
func TestMetersByteIdentical(t *testing.T) {
	schema := features.Schema{Tunnel: true, Stats: true, SPLT: true}
	same := 0
	caps := meterCaptures(t)
	for _, p := range caps {
		cfg := nfstreamDefaults([]string{p}, features.AccountLink, true, 10)
		one := csvBytes(t, cfg, 1, schema)
		ok := true
		for _, n := range []int{2, 4} {
			if got := csvBytes(t, cfg, n, schema); !bytes.Equal(got, one) {
				t.Errorf("%s: %d meters differ from one:\n%s", filepath.Base(p), n, firstDiff(one, got))
				ok = false
			}
		}
		if ok {
			same++
		}
	}
	fmt.Printf("conformance meters: %d of %d captures give the same bytes with 1, 2 and 4 meters\n", same, len(caps))
}

// TestMetersWithDissection checks that with nDPI on, 2 and 4 meters give
// the same rows as one, except L7 values that came from nDPI's per-module
// caches, the documented exception (docs/compatibility.md item 5): confidence 5 ("DPI
// cache"), and STUN sub-protocols, which nDPI 4.2 takes from its STUN cache
// (keyed by address and port, filled by other flows) while reporting
// confidence 6.
func TestMetersWithDissection(t *testing.T) {
	schema := features.Schema{Tunnel: true, Stats: true, SPLT: true, L7: true}
	for _, p := range meterCaptures(t) {
		cfg := nfstreamDefaults([]string{p}, features.AccountLink, true, 10)
		cfg.Meter.Dissections = 20
		one, err := corpus.ParseCSV(string(csvBytes(t, cfg, 1, schema)))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{2, 4} {
			got, err := corpus.ParseCSV(string(csvBytes(t, cfg, n, schema)))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Rows) != len(one.Rows) {
				t.Fatalf("%s: %d meters give %d flows, one gives %d", filepath.Base(p), n, len(got.Rows), len(one.Rows))
			}
			conf := one.Col("application_confidence")
			first := one.Col("application_name")
			for r := range one.Rows {
				stun := strings.HasPrefix(one.Rows[r][first], "STUN") && strings.HasPrefix(got.Rows[r][first], "STUN")
				cached := one.Rows[r][conf] == "5" || got.Rows[r][conf] == "5" || stun
				for c := range one.Header {
					if one.Rows[r][c] == got.Rows[r][c] || (cached && c >= first) {
						continue
					}
					t.Errorf("%s: %d meters, flow %d, %s: %q, one meter %q", filepath.Base(p), n, r, one.Header[c], got.Rows[r][c], one.Rows[r][c])
				}
			}
		}
	}
}

func firstDiff(a, b []byte) string {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := 0; i < len(la) && i < len(lb); i++ {
		if !bytes.Equal(la[i], lb[i]) {
			return fmt.Sprintf("line %d:\none: %s\nmany: %s", i, la[i], lb[i])
		}
	}
	return fmt.Sprintf("%d lines against %d", len(la), len(lb))
}
