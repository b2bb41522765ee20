package output

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/features"
)

// partRec is a flow first seen at firstMS, expired at expiredMS.
func partRec(id, firstMS, expiredMS uint64, proto uint8, app string) *features.Record {
	r := rec(id, expiredMS)
	r.Bidirectional.FirstSeenMS = firstMS
	r.Protocol = proto
	r.L7 = &features.L7{Application: app}
	return r
}

func partCols() []features.Column {
	return features.Schema{L7: true}.Columns()
}

func names(files []*memSink) []string {
	var n []string
	for _, f := range files {
		n = append(n, f.name)
	}
	return n
}

// TestPartitionedLayout: folders from the keys in order, UTC date and
// hour of the first packet, Hive escaping, the key columns that leave the
// files, and no file for a partition without flows.
func TestPartitionedLayout(t *testing.T) {
	dir := t.TempDir()
	var f memFiles
	s := NewPartitioned(PartitionConfig{Dir: dir, By: []PartitionKey{PartitionProtocol, PartitionDate, PartitionHour, PartitionApplication}, Create: f.create})
	if err := s.Begin(partCols()); err != nil {
		t.Fatal(err)
	}
	inner := s.cols
	for _, c := range inner {
		if c.Name == "protocol" || c.Name == "application_name" {
			t.Errorf("column %s is in the files", c.Name)
		}
	}
	if len(inner) != len(partCols())-2 {
		t.Errorf("%d columns in the files, want all but 2 of %d", len(inner), len(partCols()))
	}
	for i, r := range []*features.Record{
		partRec(0, t0, t0+1000, 6, "TLS.Google"),
		partRec(1, t0+3600_000*13, t0+3600_000*13, 17, "a b/c%"),
		partRec(2, t0-1, t0, 6, ""),
		partRec(3, t0+5, t0+2000, 6, "TLS.Google"),
		partRec(4, t0+5, t0+2000, 1, ".."),
	} {
		if err := s.Write(r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"protocol=6/date=2024-03-01/hour=12/application_name=TLS.Google/part-000000.parquet",
		"protocol=17/date=2024-03-02/hour=1/application_name=a%20b%2Fc%25/part-000000.parquet",
		"protocol=6/date=2024-03-01/hour=11/application_name=__HIVE_DEFAULT_PARTITION__/part-000000.parquet",
		"protocol=1/date=2024-03-01/hour=12/application_name=%2E%2E/part-000000.parquet",
	}
	for i := range want {
		want[i] = filepath.Join(dir, want[i])
	}
	if got := names(f.files); !slices.Equal(got, want) {
		t.Errorf("files\n%q\nwant\n%q", got, want)
	}
	if ids := f.files[0].ids; !slices.Equal(ids, []uint64{0, 3}) {
		t.Errorf("first partition: ids %v, want 0 and 3", ids)
	}
	if !slices.Equal(s.Files(), want) || s.Partitions() != 4 {
		t.Errorf("Files %v, Partitions %d", s.Files(), s.Partitions())
	}
}

// TestPartitionedMaxOpen: with at most two files open, a third partition
// closes the least recently written one, whose next flow starts a new
// part; no more than two files are ever open.
func TestPartitionedMaxOpen(t *testing.T) {
	dir := t.TempDir()
	var f memFiles
	s := NewPartitioned(PartitionConfig{Dir: dir, By: []PartitionKey{PartitionProtocol}, Create: f.create, MaxOpen: 2})
	if err := s.Begin(partCols()); err != nil {
		t.Fatal(err)
	}
	openNow := func() int {
		n := 0
		for _, m := range f.files {
			if !m.closed {
				n++
			}
		}
		return n
	}
	for i, proto := range []uint8{6, 17, 6, 1, 6, 17} {
		if err := s.Write(partRec(uint64(i), t0, t0, proto, "")); err != nil {
			t.Fatal(err)
		}
		if n := openNow(); n > 2 {
			t.Fatalf("after flow %d: %d files open", i, n)
		}
	}
	s.Close()
	want := []string{"protocol=6/part-000000.parquet", "protocol=17/part-000000.parquet", "protocol=1/part-000000.parquet", "protocol=17/part-000001.parquet"}
	for i := range want {
		want[i] = filepath.Join(dir, want[i])
	}
	if got := names(f.files); !slices.Equal(got, want) {
		t.Errorf("files\n%q\nwant\n%q", got, want)
	}
	if ids := f.files[0].ids; !slices.Equal(ids, []uint64{0, 2, 4}) {
		t.Errorf("protocol 6 (written last at flow 4, kept open): ids %v", ids)
	}
}

// TestPartitionedRotation: with an interval, every open part closes when
// the expiry clock enters a new interval, the next flows of a partition
// go to a new part; --rotate-flows bounds the flows of a part; Rotate
// (SIGHUP) closes every open part.
func TestPartitionedRotation(t *testing.T) {
	dir := t.TempDir()
	var f memFiles
	s := NewPartitioned(PartitionConfig{Dir: dir, By: []PartitionKey{PartitionProtocol}, Create: f.create, Interval: time.Minute, Flows: 2})
	if err := s.Begin(partCols()); err != nil {
		t.Fatal(err)
	}
	write := func(id, expired uint64, proto uint8) {
		t.Helper()
		if err := s.Write(partRec(id, t0, expired, proto, "")); err != nil {
			t.Fatal(err)
		}
	}
	write(0, t0+1000, 6)
	write(1, t0+2000, 17)
	write(2, t0+61_000, 6) // new interval: both parts closed
	if !f.files[0].closed || !f.files[1].closed || f.files[2].closed {
		t.Fatalf("after the interval: closed %v %v %v", f.files[0].closed, f.files[1].closed, f.files[2].closed)
	}
	write(3, t0+62_000, 6)
	write(4, t0+63_000, 6) // third flow of the part: a new one
	if err := s.Rotate(); err != nil {
		t.Fatal(err)
	}
	for _, m := range f.files {
		if !m.closed {
			t.Errorf("%s open after Rotate", m.name)
		}
	}
	write(5, t0+64_000, 6)
	s.Close()
	var got [][]uint64
	for _, m := range f.files {
		got = append(got, m.ids)
	}
	want := [][]uint64{{0}, {1}, {2, 3}, {4}, {5}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("ids per part %v, want %v", got, want)
	}
	if f.files[4].name != filepath.Join(dir, "protocol=6", "part-000003.parquet") {
		t.Errorf("last part %s", f.files[4].name)
	}
}

// TestPartitionedRealFiles: part files written through FileConfig.Create
// appear under their final names only when complete; a new run numbers
// its parts after those in the folder; a part whose name was taken
// meanwhile is not overwritten (the commit fails, naming it).
func TestPartitionedRealFiles(t *testing.T) {
	dir := t.TempDir()
	fc := FileConfig{Format: FormatCSV, NoReplace: true}
	cfg := PartitionConfig{Dir: dir, By: []PartitionKey{PartitionDate}, Create: fc.Create, Ext: ".csv"}
	part := filepath.Join(dir, "date=2024-03-01")
	if err := os.MkdirAll(part, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"part-000003.csv", "part-x.csv", "other.csv"} {
		if err := os.WriteFile(filepath.Join(part, name), []byte("old\n"), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	s := NewPartitioned(cfg)
	if err := s.Begin(partCols()); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(partRec(0, t0, t0, 6, "")); err != nil {
		t.Fatal(err)
	}
	final := filepath.Join(part, "part-000004.csv")
	if _, err := os.Stat(final); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s visible before its close: %v", final, err)
	}
	// Another writer takes the name meanwhile.
	if err := os.WriteFile(final, []byte("theirs\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	err := s.Close()
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("Close over a name taken meanwhile: %v, want a file-exists error", err)
	}
	if b, _ := os.ReadFile(final); string(b) != "theirs\n" {
		t.Errorf("%s overwritten: %q", final, b)
	}
	// A clean run.
	s = NewPartitioned(cfg)
	s.Begin(partCols())
	if err := s.Write(partRec(0, t0, t0, 6, "")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(part)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if want := []string{"other.csv", "part-000003.csv", "part-000004.csv", "part-000005.csv", "part-x.csv"}; !slices.Equal(got, want) {
		t.Errorf("folder %v, want %v", got, want)
	}
}

func TestCheckPartitionLayout(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "date=2024-03-01", "hour=1"), 0o777)
	os.MkdirAll(filepath.Join(dir, "notes"), 0o777)
	if err := CheckPartitionLayout(dir, []PartitionKey{PartitionDate, PartitionHour, PartitionProtocol}); err != nil {
		t.Errorf("same layout, deeper: %v", err)
	}
	if err := CheckPartitionLayout(dir, []PartitionKey{PartitionDate, PartitionProtocol}); err == nil {
		t.Error("hour where protocol is wanted: accepted")
	}
	if err := CheckPartitionLayout(dir, []PartitionKey{PartitionHour}); err == nil {
		t.Error("date where hour is wanted: accepted")
	}
	if err := CheckPartitionLayout(filepath.Join(dir, "none"), []PartitionKey{PartitionHour}); err != nil {
		t.Errorf("a new folder: %v", err)
	}
}

func TestParsePartitionKeys(t *testing.T) {
	keys, err := ParsePartitionKeys([]string{"hour", " Date", "application", "protocol"})
	if err != nil || !slices.Equal(keys, []PartitionKey{PartitionHour, PartitionDate, PartitionApplication, PartitionProtocol}) {
		t.Errorf("keys %v, %v", keys, err)
	}
	for _, bad := range [][]string{nil, {"week"}, {"date", "date"}, {""}} {
		if _, err := ParsePartitionKeys(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestPartitionedWallClock: live (Now set), the open parts close once the
// wall clock leaves their interval, even when no flow comes (the ticker
// calls CloseElapsed), and not before.
func TestPartitionedWallClock(t *testing.T) {
	var f memFiles
	now := time.UnixMilli(t0 + 10_000)
	s := NewPartitioned(PartitionConfig{Dir: t.TempDir(), By: []PartitionKey{PartitionProtocol}, Create: f.create,
		Interval: time.Minute, Now: func() time.Time { return now }})
	if err := s.Begin(partCols()); err != nil {
		t.Fatal(err)
	}
	for i, proto := range []uint8{6, 17} {
		if err := s.Write(partRec(uint64(i), t0, 0, proto, "")); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(49 * time.Second)
	s.CloseElapsed()
	if f.files[0].closed || f.files[1].closed {
		t.Fatal("parts closed within their interval")
	}
	now = now.Add(2 * time.Second)
	s.CloseElapsed()
	if !f.files[0].closed || !f.files[1].closed {
		t.Fatal("parts still open after their interval")
	}
	if err := s.Write(partRec(2, t0, 0, 6, "")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(f.files) != 3 || !slices.Equal(f.files[2].ids, []uint64{2}) {
		t.Errorf("after the interval: %d files", len(f.files))
	}
}

// FuzzHiveValue: a partition value, which comes from packet data (nDPI's
// names, plugin values), becomes exactly one safe folder name: only
// A-Z a-z 0-9 . _ - and %XX, never "." or "..", and unescaping it gives
// the value back.
func FuzzHiveValue(f *testing.F) {
	for _, s := range []string{"TLS.Google", "", ".", "..", "../etc", "a b/c%", "\x00\xff", "__HIVE_DEFAULT_PARTITION__"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c := features.Column{Name: "application_name", Kind: features.KindString,
			String: func(_ *features.Record, b []byte) []byte { return append(b, v...) }}
		got := string(appendHiveValue(nil, &c, &features.Record{}))
		if got == "." || got == ".." || got == "" {
			t.Fatalf("%q gives the folder name %q", v, got)
		}
		var back []byte
		for i := 0; i < len(got); i++ {
			x := got[i]
			switch {
			case x == '%' && i+2 < len(got):
				n, err := strconv.ParseUint(got[i+1:i+3], 16, 8)
				if err != nil {
					t.Fatalf("%q gives %q: bad escape at %d", v, got, i)
				}
				back = append(back, byte(n))
				i += 2
			case x >= 'a' && x <= 'z', x >= 'A' && x <= 'Z', x >= '0' && x <= '9', x == '.', x == '_', x == '-':
				back = append(back, x)
			default:
				t.Fatalf("%q gives %q: byte %q at %d", v, got, x, i)
			}
		}
		if v == "" {
			if got != "__HIVE_DEFAULT_PARTITION__" {
				t.Fatalf("empty value gives %q", got)
			}
			return
		}
		if string(back) != v {
			t.Fatalf("%q gives %q, which unescapes to %q", v, got, back)
		}
	})
}

// TestRemoveStalePartTemps: the temporary part files of dead processes
// are removed at any depth, those of a live one kept, and only names of
// this run's parts count: an unsharded run keeps a shard's (its pid may be
// another machine's), and a shard keeps the others'.
func TestRemoveStalePartTemps(t *testing.T) {
	dir := t.TempDir()
	dead, live := strconv.Itoa(deadPID), strconv.Itoa(os.Getpid())
	files := map[string]string{ // path: the prefix whose run removes it
		"date=2024-01-01/.part-000001.parquet.tmp-" + dead + "-1":        "part-",
		"date=2024-01-01/hour=3/.part-000002.parquet.tmp-" + dead + "-2": "part-",
		"date=2024-01-01/.part-000003.parquet.tmp-" + live + "-3":        "",
		"date=2024-01-01/.part-1of4-000001.parquet.tmp-" + dead + "-4":   "part-1of4-",
		"date=2024-01-01/.part-1of40-000001.parquet.tmp-" + dead + "-5":  "",
		"date=2024-01-01/.part-000004.csv.tmp-" + dead + "-6":            "",
		"date=2024-01-01/.part-x.parquet.tmp-" + dead + "-7":             "",
	}
	for p := range files {
		touch(t, filepath.Join(dir, p))
	}
	for _, prefix := range []string{"part-", "part-1of4-"} {
		arg := prefix
		if arg == "part-" {
			arg = "" // the default
		}
		removed, err := RemoveStalePartTemps(dir, arg, "")
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for p, by := range files {
			if by == prefix {
				want = append(want, filepath.Join(dir, p))
			}
		}
		slices.Sort(removed)
		slices.Sort(want)
		if !slices.Equal(removed, want) {
			t.Errorf("prefix %q: removed %q, want %q", prefix, removed, want)
		}
	}
	for p, by := range files {
		if _, err := os.Stat(filepath.Join(dir, p)); (err == nil) != (by == "") {
			t.Errorf("%s: exists %v", p, err == nil)
		}
	}
	if removed, err := RemoveStalePartTemps(filepath.Join(dir, "none"), "", ""); len(removed) != 0 || err != nil {
		t.Errorf("a folder that does not exist: %q, %v", removed, err)
	}
}
