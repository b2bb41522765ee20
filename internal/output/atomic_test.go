package output

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
)

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestAtomicFileCommit(t *testing.T) {
	dir := t.TempDir()
	final := filepath.Join(dir, "flows.parquet")
	a, err := CreateAtomic(final)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	// While it is written, only a hidden temporary file exists, which a
	// glob for *.parquet does not match.
	names := listDir(t, dir)
	if len(names) != 1 || !strings.HasPrefix(names[0], ".flows.parquet.tmp-") {
		t.Fatalf("while writing: %v", names)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.parquet")); len(m) != 0 {
		t.Errorf("glob sees %v before the commit", m)
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	if names := listDir(t, dir); len(names) != 1 || names[0] != "flows.parquet" {
		t.Fatalf("after commit: %v", names)
	}
	if b, _ := os.ReadFile(final); string(b) != "hello" {
		t.Errorf("contents %q", b)
	}
	if a.Commit() == nil {
		t.Error("a second Commit succeeded")
	}
}

func TestAtomicFileAbortKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	final := filepath.Join(dir, "flows.csv")
	os.WriteFile(final, []byte("previous run\n"), 0o644)
	a, err := CreateAtomic(final)
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("partial"))
	a.Abort()
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("after abort: %v", names)
	}
	if b, _ := os.ReadFile(final); string(b) != "previous run\n" {
		t.Errorf("the old file changed: %q", b)
	}
}

func TestAtomicFileErrors(t *testing.T) {
	_, err := CreateAtomic("/nonexistent-dir/flows.csv")
	if err == nil || !strings.Contains(err.Error(), `"/nonexistent-dir/flows.csv"`) || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("create in a missing folder: %v", err)
	}
	// A write error (the folder removed under it here stands for any
	// failure) keeps the final name free and is reported by Commit.
	dir := t.TempDir()
	final := filepath.Join(dir, "flows.csv")
	a, err := CreateAtomic(final)
	if err != nil {
		t.Fatal(err)
	}
	a.err = syscall.ENOSPC // as if the disk were full
	if _, err := a.Write([]byte("x")); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Write after the error: %v", err)
	}
	err = a.Commit()
	if err == nil || err.Error() != `write "`+final+`": no space left on device` {
		t.Errorf("Commit = %v", err)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("files left: %v", names)
	}
}

// TestFileSinkWriteErrorRemovesFile: a sink whose file cannot be written
// fails with the final name, and leaves nothing behind.
func TestFileSinkWriteErrorRemovesFile(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"flows.csv", "flows.csv.gz", "flows.jsonl.zst", "flows.parquet"} {
		final := filepath.Join(dir, name)
		f, c, _, _ := FormatFromPath(final)
		fc := FileConfig{Format: f, Text: c}
		s, err := fc.Create(final)
		if err != nil {
			t.Fatal(err)
		}
		s.Begin(testColumns("x"))
		s.(*fileSink).dest.(*AtomicFile).f.Close() // every later write fails
		r := features.Record{SPLTDirection: []int8{1}}
		var werr error
		for i := 0; i < 5000 && werr == nil; i++ {
			werr = s.Write(&r)
		}
		cerr := s.Close()
		if cerr == nil || !strings.Contains(cerr.Error(), `"`+final+`"`) {
			t.Errorf("%s: Close = %v, want an error naming the file", name, cerr)
		}
		if names := listDir(t, dir); len(names) != 0 {
			t.Errorf("%s: files left: %v", name, names)
		}
	}
}

// TestCompressedText: .gz and .zst files decompress, with tools other than
// the library that wrote them, to the plain CSV and JSONL.
func TestCompressedText(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) []byte {
		path := filepath.Join(dir, name)
		f, c, ok, err := FormatFromPath(path)
		if err != nil || !ok {
			t.Fatalf("%s: %v %v", name, ok, err)
		}
		fc := FileConfig{Format: f, Text: c}
		s, err := fc.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		s.Begin(testColumns(`say "hi"`))
		for i := 0; i < 20000; i++ {
			r := features.Record{ID: uint64(i), SPLTDirection: []int8{0, 1}}
			if err := s.Write(&r); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, format := range []string{"csv", "jsonl"} {
		plain := write("flows." + format)
		gz := write("flows." + format + ".gz")
		zr, err := gzip.NewReader(bytes.NewReader(gz)) // the standard library's gzip
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if _, err := got.ReadFrom(zr); err != nil {
			t.Fatalf("%s.gz: %v", format, err)
		}
		if !bytes.Equal(got.Bytes(), plain) {
			t.Errorf("%s.gz does not decompress to the plain file", format)
		}
		zst := write("flows." + format + ".zst")
		if len(gz) >= len(plain) || len(zst) >= len(plain) {
			t.Errorf("%s: compressed %d and %d bytes, plain %d", format, len(gz), len(zst), len(plain))
		}
		zstd, err := exec.LookPath("zstd")
		if err != nil {
			t.Logf("zstd command not installed: .zst checked for size only")
			continue
		}
		cmd := exec.Command(zstd, "-dc")
		cmd.Stdin = bytes.NewReader(zst)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("zstd -d: %v", err)
		}
		if !bytes.Equal(out, plain) {
			t.Errorf("%s.zst does not decompress to the plain file", format)
		}
	}
}

func TestFormatFromPath(t *testing.T) {
	for _, c := range []struct {
		path string
		f    Format
		c    TextCompression
		ok   bool
		err  bool
	}{
		{"flows.csv", FormatCSV, NoCompression, true, false},
		{"FLOWS.CSV.GZ", FormatCSV, Gzip, true, false},
		{"flows.jsonl.zst", FormatJSONL, Zstd, true, false},
		{"flows.ndjson", FormatJSONL, NoCompression, true, false},
		{"flows.parquet", FormatParquet, NoCompression, true, false},
		{"flows.parquet.zst", FormatParquet, Zstd, true, true},
		{"flows.gz", FormatCSV, Gzip, false, false},
		{"flows.txt", FormatCSV, NoCompression, false, false},
	} {
		f, comp, ok, err := FormatFromPath(c.path)
		if f != c.f || comp != c.c || ok != c.ok || (err != nil) != c.err {
			t.Errorf("FormatFromPath(%q) = %v %v %v %v", c.path, f, comp, ok, err)
		}
	}
}
