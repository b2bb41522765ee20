// Package corpus locates NFStream's test corpus (../shared/corpus beside
// the repository: NFStream's captures and the flows NFStream produced for
// them) for conformance tests, which skip when it is absent.
package corpus

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Dir returns the corpus's nfstream folder, or skips the test with the
// reason when it is not there.
func Dir(tb testing.TB) string {
	tb.Helper()
	root, err := repoRoot()
	if err != nil {
		tb.Skipf("corpus: %v", err)
	}
	dir := filepath.Join(root, "..", "shared", "corpus", "nfstream")
	if _, err := os.Stat(filepath.Join(dir, "pcaps")); err != nil {
		tb.Skipf("NFStream corpus not found at %s (it lives in ../shared/corpus beside the repository): %v", dir, err)
	}
	return dir
}

// Realistic returns the realistic capture of the benchmarks
// (NFSTREAM_BIG, else nfstream-big/big.pcap in the temporary folder, where
// scripts/bench-realistic has ../shared/tools/make-big.sh write it), or
// skips the benchmark when it is absent.
func Realistic(tb testing.TB) string {
	tb.Helper()
	path := os.Getenv("NFSTREAM_BIG")
	if path == "" {
		path = filepath.Join(os.TempDir(), "nfstream-big", "big.pcap")
	}
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("no realistic capture at %s (scripts/bench-realistic builds it with ../shared/tools/make-big.sh; or set NFSTREAM_BIG): %v", path, err)
	}
	return path
}

// RepoRoot returns the repository's top folder (the one with go.mod).
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := repoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Capture is one corpus capture that has NFStream results.
type Capture struct {
	Name string // file name, e.g. "dns.pcap"
	Path string // path of the capture
}

// Captures lists, sorted by name, the captures that have a file in
// results/ (the nine whose capture is missing from the corpus are left out,
// as is memcached.cap, which has no results).
func Captures(tb testing.TB, dir string) []Capture {
	tb.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "results"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []Capture
	for _, e := range entries {
		p := filepath.Join(dir, "pcaps", e.Name())
		if _, err := os.Stat(p); err != nil {
			continue
		}
		out = append(out, Capture{Name: e.Name(), Path: p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Table is a CSV file read as a header and rows.
type Table struct {
	Header []string
	Rows   [][]string
}

// Col returns the index of a column, or -1.
func (t *Table) Col(name string) int {
	for i, h := range t.Header {
		if h == name {
			return i
		}
	}
	return -1
}

// ReadCSV reads a CSV file. NFStream's writer escapes inner quotes with a
// backslash, ours doubles them; the corpus files contain neither, so one
// lenient reader serves both.
func ReadCSV(path string) (*Table, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCSV(string(b))
}

// ParseCSV parses CSV text with a header line.
func ParseCSV(text string) (*Table, error) {
	r := csv.NewReader(strings.NewReader(text))
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("no header")
	}
	return &Table{Header: recs[0], Rows: recs[1:]}, nil
}
