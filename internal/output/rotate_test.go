package output

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/features"
)

func TestExpandTemplate(t *testing.T) {
	at := time.Date(2024, 3, 1, 9, 5, 7, 0, time.UTC)
	for _, c := range []struct {
		tmpl string
		seq  uint64
		want string
	}{
		{"flows.csv", 0, "flows.000000.csv"},
		{"flows.csv", 12, "flows.000012.csv"},
		{"/data/flows.csv.gz", 3, "/data/flows.000003.csv.gz"},
		{"out/flows.jsonl.zst", 1, "out/flows.000001.jsonl.zst"},
		{"flows.parquet", 2, "flows.000002.parquet"},
		{"flows", 4, "flows.000004"},
		{"dir.v2/flows", 4, "dir.v2/flows.000004"},
		{"100%%.csv", 1, "100%.000001.csv"},
		{"flows-%Y%m%d-%H%M%S.parquet", 9, "flows-20240301-090507.parquet"},
		{"/data/%Y/%m/%d/flows-%H%M.csv", 0, "/data/2024/03/01/flows-0905.csv"},
		{"flows-%i.csv", 7, "flows-000007.csv"},
		{"flows-%i.csv", 1234567, "flows-1234567.csv"},
		{"flows-%Y-%i-%%.csv", 7, "flows-2024-000007-%.csv"},
	} {
		if got := ExpandTemplate(c.tmpl, at, c.seq); got != c.want {
			t.Errorf("ExpandTemplate(%q, %d) = %q, want %q", c.tmpl, c.seq, got, c.want)
		}
	}
	// Times are UTC whatever the zone of the time given.
	paris := at.In(time.FixedZone("CET", 3600))
	if got := ExpandTemplate("%H", paris, 0); got != "09" {
		t.Errorf("hour in UTC: got %q", got)
	}
}

func TestCheckTemplate(t *testing.T) {
	for _, ok := range []string{"flows.csv", "flows-%Y%m%d%H%M%S-%i.csv", "a%%b.csv"} {
		if err := CheckTemplate(ok); err != nil {
			t.Errorf("CheckTemplate(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"flows-%q.csv", "flows%", "%y.csv"} {
		if err := CheckTemplate(bad); err == nil {
			t.Errorf("CheckTemplate(%q) accepted", bad)
		}
	}
}

func TestSplitExt(t *testing.T) {
	for _, c := range [][3]string{
		{"flows.csv", "flows", ".csv"},
		{"a/b.c/flows.CSV.GZ", "a/b.c/flows", ".CSV.GZ"},
		{"flows.jsonl.zst", "flows", ".jsonl.zst"},
		{"flows.gz", "flows", ".gz"},
		{"flows.txt", "flows.txt", ""},
		{"flows", "flows", ""},
	} {
		stem, ext := SplitExt(c[0])
		if stem != c[1] || ext != c[2] {
			t.Errorf("SplitExt(%q) = %q, %q; want %q, %q", c[0], stem, ext, c[1], c[2])
		}
	}
}

// memSink records what it receives, for rotation tests.
type memSink struct {
	name   string
	ids    []uint64
	begun  bool
	closed bool
}

func (m *memSink) Begin([]features.Column) error { m.begun = true; return nil }
func (m *memSink) Write(r *features.Record) error {
	m.ids = append(m.ids, r.ID)
	return nil
}
func (m *memSink) Close() error { m.closed = true; return nil }

type memFiles struct {
	mu    sync.Mutex
	files []*memSink
}

func (f *memFiles) create(path string) (Sink, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &memSink{name: path}
	f.files = append(f.files, s)
	return s, nil
}

// rec is a record that expired at expiredMS (its last packet then too).
func rec(id, expiredMS uint64) *features.Record {
	r := &features.Record{ID: id, ExpiredMS: expiredMS}
	r.Bidirectional.LastSeenMS = expiredMS
	return r
}

const t0 = 1709294400000 // 2024-03-01 12:00:00 UTC, ms

func TestRotatingByInterval(t *testing.T) {
	var f memFiles
	s := NewRotating(RotateConfig{Template: "flows-%H%M%S.csv", Interval: time.Minute, Create: f.create})
	s.Begin(nil)
	// Last-seen times in output order; the 4th goes back in time (a flow
	// flushed late): it stays in the current file, whose interval is the
	// packet time the meter had reached.
	times := []uint64{t0 + 1000, t0 + 59_999, t0 + 60_000, t0 + 30_000, t0 + 185_000, t0 + 185_500}
	for i, ts := range times {
		if err := s.Write(rec(uint64(i), ts)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		ids  []uint64
	}{
		{"flows-120000.csv", []uint64{0, 1}},
		{"flows-120100.csv", []uint64{2, 3}},
		{"flows-120300.csv", []uint64{4, 5}}, // no file for the empty 12:02 interval
	}
	if len(f.files) != len(want) {
		t.Fatalf("%d files, want %d", len(f.files), len(want))
	}
	for i, w := range want {
		got := f.files[i]
		if got.name != w.name || !slices.Equal(got.ids, w.ids) || !got.begun || !got.closed {
			t.Errorf("file %d: %+v, want %s with ids %v, begun and closed", i, got, w.name, w.ids)
		}
	}
	if !slices.Equal(s.Files(), []string{"flows-120000.csv", "flows-120100.csv", "flows-120300.csv"}) {
		t.Errorf("Files() = %v", s.Files())
	}
}

func TestRotatingByFlowsAndSequence(t *testing.T) {
	var f memFiles
	s := NewRotating(RotateConfig{Template: "out/flows.csv.gz", Flows: 3, Create: f.create})
	s.Begin(nil)
	for i := 0; i < 8; i++ {
		if err := s.Write(rec(uint64(i), t0)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	names := []string{"out/flows.000000.csv.gz", "out/flows.000001.csv.gz", "out/flows.000002.csv.gz"}
	sizes := []int{3, 3, 2}
	if len(f.files) != 3 {
		t.Fatalf("%d files", len(f.files))
	}
	for i, m := range f.files {
		if m.name != names[i] || len(m.ids) != sizes[i] {
			t.Errorf("file %d: %s with %d flows, want %s with %d", i, m.name, len(m.ids), names[i], sizes[i])
		}
	}
}

// TestRotatingRotate: Rotate (SIGHUP) ends the current file; the next flow
// opens the next one. A time template without %i gets a repeat suffix so
// the second file of an interval does not replace the first.
func TestRotatingRotate(t *testing.T) {
	var f memFiles
	s := NewRotating(RotateConfig{Template: "flows-%H%M.parquet", Interval: time.Hour, Create: f.create})
	s.Begin(nil)
	s.Write(rec(0, t0))
	if err := s.Rotate(); err != nil {
		t.Fatal(err)
	}
	if !f.files[0].closed {
		t.Error("Rotate did not close the current file")
	}
	s.Rotate() // nothing open: nothing happens
	s.Write(rec(1, t0+10))
	s.Write(rec(2, t0+20))
	s.Close()
	if len(f.files) != 2 || f.files[0].name != "flows-1200.parquet" || f.files[1].name != "flows-1200_2.parquet" {
		t.Fatalf("files %v", s.Files())
	}
	if !slices.Equal(f.files[1].ids, []uint64{1, 2}) {
		t.Errorf("second file has %v", f.files[1].ids)
	}
}

func TestRotatingWallClock(t *testing.T) {
	var f memFiles
	now := time.UnixMilli(t0 + 5000)
	s := NewRotating(RotateConfig{Template: "f-%M.csv", Interval: time.Minute, Create: f.create,
		Now: func() time.Time { return now }})
	s.Begin(nil)
	s.Write(rec(0, 1)) // packet times are ignored
	now = now.Add(time.Minute)
	s.Write(rec(1, 1))
	// A quiet link: the file of 12:01 is closed once the clock has left
	// its minute, without waiting for another flow.
	s.CloseElapsed()
	if f.files[1].closed {
		t.Error("CloseElapsed closed the file of the current interval")
	}
	now = now.Add(time.Minute)
	s.CloseElapsed()
	if !f.files[1].closed {
		t.Error("CloseElapsed left the file of a past interval open")
	}
	s.Close()
	if len(f.files) != 2 || f.files[0].name != "f-00.csv" || f.files[1].name != "f-01.csv" {
		t.Errorf("files %v", s.Files())
	}
}

func TestRotatingCreateError(t *testing.T) {
	boom := errors.New("boom")
	s := NewRotating(RotateConfig{Template: "f.csv", Flows: 1, Create: func(string) (Sink, error) { return nil, boom }})
	s.Begin(nil)
	if err := s.Write(rec(0, t0)); !errors.Is(err, boom) {
		t.Errorf("Write = %v", err)
	}
	if err := s.Write(rec(1, t0)); !errors.Is(err, boom) {
		t.Errorf("second Write = %v, want the first error again", err)
	}
	if err := s.Close(); !errors.Is(err, boom) {
		t.Errorf("Close = %v", err)
	}
}

// TestRotatingRealFiles writes rotated CSV files through FileConfig and
// AtomicFile, with folders named by fields, and checks each file is a
// complete CSV.
func TestRotatingRealFiles(t *testing.T) {
	dir := t.TempDir()
	fc := FileConfig{Format: FormatCSV}
	s := NewRotating(RotateConfig{Template: filepath.Join(dir, "%Y-%m-%d", "flows-%H.csv"), Interval: time.Hour, Create: fc.Create})
	if err := s.Begin(testColumns("x")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := s.Write(rec(uint64(i), t0+uint64(i)*40*60_000)); err != nil { // every 40 min
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"2024-03-01/flows-12.csv": "0 1",
		"2024-03-01/flows-13.csv": "2",
		"2024-03-01/flows-14.csv": "3 4",
	}
	for name, ids := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		var got []string
		for _, l := range lines[1:] {
			got = append(got, strings.SplitN(l, ",", 2)[0])
		}
		if lines[0] != "id,expiration_id,mean,ua,splt" || strings.Join(got, " ") != ids {
			t.Errorf("%s:\n%s", name, b)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "2024-03-01"))
	if len(entries) != 3 {
		t.Errorf("%d entries, want the 3 files and no temporary one", len(entries))
	}
}
