package output

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/nfstream-go/nfstream/internal/features"
)

// mkfifo makes a FIFO in a test folder.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o666); err != nil {
		t.Fatal(err)
	}
}

// mknull makes a character device like /dev/null (1, 3) in a test
// folder; it needs root.
func mknull(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making a character device needs root")
	}
	if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("cannot make a character device here: %v", err)
	}
}

func TestClassify(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	regular := filepath.Join(dir, "flows.csv")
	os.WriteFile(regular, []byte("x"), 0o644)
	fifo := filepath.Join(dir, "fifo")
	mkfifo(t, fifo)
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	target := filepath.Join(other, "target.csv")
	link := filepath.Join(dir, "link.csv")
	os.Symlink(target, link) // dangling: the target does not exist yet
	link2 := filepath.Join(dir, "link2.csv")
	os.Symlink("link.csv", link2) // relative, to a link
	fifoLink := filepath.Join(dir, "fifo-link")
	os.Symlink(fifo, fifoLink)
	for _, c := range []struct {
		path   string
		kind   DestKind
		target string
	}{
		{regular, DestFile, regular},
		{filepath.Join(dir, "new.csv"), DestFile, filepath.Join(dir, "new.csv")},
		{filepath.Join(dir, "missing", "new.csv"), DestFile, filepath.Join(dir, "missing", "new.csv")},
		{dir, DestDir, dir},
		{fifo, DestStream, fifo},
		{sock, DestStream, sock},
		{link, DestFile, target},
		{link2, DestFile, target},
		{fifoLink, DestStream, fifoLink},
	} {
		d := Classify(c.path)
		if d.Kind != c.kind || d.Target != c.target || d.Path != c.path {
			t.Errorf("Classify(%q) = %+v, want kind %d target %q", c.path, d, c.kind, c.target)
		}
		if (d.Err() != nil) != (c.kind == DestDir) {
			t.Errorf("Classify(%q).Err() = %v", c.path, d.Err())
		}
	}
	os.WriteFile(target, nil, 0o644) // the link now resolves
	if d := Classify(link); d.Kind != DestFile || d.Target != target {
		t.Errorf("link to a file: %+v", d)
	}
	if os.Geteuid() == 0 {
		dev := filepath.Join(dir, "null")
		mknull(t, dev)
		if d := Classify(dev); d.Kind != DestStream {
			t.Errorf("character device: %+v", d)
		}
		blk := filepath.Join(dir, "blk")
		if err := syscall.Mknod(blk, syscall.S_IFBLK|0o600, int(unix.Mkdev(7, 200))); err == nil {
			if d := Classify(blk); d.Kind != DestOther || d.Err() == nil || !strings.Contains(d.Err().Error(), "block device") {
				t.Errorf("block device: %+v %v", d, d.Err())
			}
		}
	}
	for p, want := range map[string]bool{"/dev/stdout": true, "/dev/fd/1": true, "/proc/self/fd/1": true,
		"/proc/123/fd/4": true, "/proc/self/status": false, "/dev/null": false, "/tmp/flows.csv": false} {
		if got := isFDPath(p); got != want {
			t.Errorf("isFDPath(%q) = %v", p, got)
		}
	}
}

// writeFlows writes n records through a sink made by fc.Create and closes
// it.
func writeFlows(t *testing.T, fc FileConfig, path string, n int) error {
	t.Helper()
	s, err := fc.Create(path)
	if err != nil {
		return err
	}
	if err := s.Begin(testColumns("x")); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		r := features.Record{ID: uint64(i), SPLTDirection: []int8{1}}
		if err := s.Write(&r); err != nil {
			return err
		}
	}
	return s.Close()
}

// TestCreateFIFO: a FIFO is written directly: its reader gets the whole
// file (CSV, and Parquet, which streams), the FIFO stays a FIFO, and no
// temporary file is made beside it.
func TestCreateFIFO(t *testing.T) {
	for _, f := range []Format{FormatCSV, FormatParquet} {
		dir := t.TempDir()
		fifo := filepath.Join(dir, "flows.pipe")
		mkfifo(t, fifo)
		got := make(chan []byte)
		go func() {
			r, err := os.Open(fifo)
			if err != nil {
				got <- nil
				return
			}
			b, _ := io.ReadAll(r)
			r.Close()
			got <- b
		}()
		if err := writeFlows(t, FileConfig{Format: f}, fifo, 1000); err != nil {
			t.Fatal(err)
		}
		b := <-got
		switch f {
		case FormatCSV:
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			if len(lines) != 1001 || lines[0] != "id,expiration_id,mean,ua,splt" || !strings.HasPrefix(lines[1000], "999,") {
				t.Errorf("the reader got %d lines", len(lines))
			}
		case FormatParquet:
			if len(b) < 8 || string(b[:4]) != "PAR1" || string(b[len(b)-4:]) != "PAR1" {
				t.Errorf("the reader got %d bytes, not a whole Parquet file", len(b))
			}
		}
		if st, err := os.Lstat(fifo); err != nil || st.Mode().Type() != os.ModeNamedPipe {
			t.Errorf("after the run: %v %v", st, err)
		}
		if names := listDir(t, dir); !slices.Equal(names, []string{"flows.pipe"}) {
			t.Errorf("files %v", names)
		}
	}
}

// TestCreateCharDevice: a character device is written and closed without
// fsync errors and stays a device.
func TestCreateCharDevice(t *testing.T) {
	dir := t.TempDir()
	dev := filepath.Join(dir, "null")
	mknull(t, dev)
	for _, f := range []Format{FormatCSV, FormatJSONL, FormatParquet} {
		if err := writeFlows(t, FileConfig{Format: f}, dev, 100); err != nil {
			t.Fatalf("%v: %v", f, err)
		}
	}
	if err := writeFlows(t, FileConfig{Format: FormatCSV, Text: Gzip, LiveFlush: 10 * time.Millisecond}, dev, 100); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(dev); err != nil || st.Mode().Type() != os.ModeDevice|os.ModeCharDevice {
		t.Errorf("after the runs: %v %v", st, err)
	}
	if names := listDir(t, dir); !slices.Equal(names, []string{"null"}) {
		t.Errorf("files %v", names)
	}
}

// TestCreateSocket: a Unix socket is connected to and written.
func TestCreateSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan []byte)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(c)
		c.Close()
		got <- b
	}()
	if err := writeFlows(t, FileConfig{Format: FormatJSONL}, sock, 10); err != nil {
		t.Fatal(err)
	}
	if b := <-got; bytes.Count(b, []byte("\n")) != 10 {
		t.Errorf("the socket got %q", b)
	}
}

// TestCreateSymlink: a symbolic link is written through: its target, in
// another folder, gets the file atomically (temporary file in the
// target's folder), and the link stays a link.
func TestCreateSymlink(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	target := filepath.Join(other, "real.csv")
	link := filepath.Join(dir, "flows.csv")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ { // dangling, then existing
		s, err := (&FileConfig{Format: FormatCSV}).Create(link)
		if err != nil {
			t.Fatal(err)
		}
		s.Begin(testColumns("x"))
		if names := listDir(t, other); len(names) != 1+round || !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, ".real.csv.tmp-") }) {
			t.Errorf("round %d: while writing, the target's folder has %v", round, names)
		}
		s.Write(&features.Record{ID: 7, SPLTDirection: []int8{1}})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Lstat(link); err != nil || st.Mode().Type() != os.ModeSymlink {
			t.Fatalf("round %d: the link is no longer a link: %v %v", round, st, err)
		}
		b, _ := os.ReadFile(target)
		if !strings.HasPrefix(string(b), "id,") || !strings.Contains(string(b), "\n7,") {
			t.Errorf("round %d: target has %q", round, b)
		}
		if names := listDir(t, other); !slices.Equal(names, []string{"real.csv"}) {
			t.Errorf("round %d: target folder %v", round, names)
		}
	}
}

func TestCreateFolderRefused(t *testing.T) {
	dir := t.TempDir()
	_, err := (&FileConfig{Format: FormatCSV}).Create(dir)
	if err == nil || !strings.Contains(err.Error(), "folder") {
		t.Errorf("Create(folder) = %v", err)
	}
}

// TestRotatingRepeatedNames: a template that cannot tell days apart (%H
// with --rotate 1h over 3 days) never overwrites a file of the run: the
// repeats get _2, _3, which sort right after the first name, and one
// warning is given.
func TestRotatingRepeatedNames(t *testing.T) {
	var f memFiles
	var warnings []string
	s := NewRotating(RotateConfig{Template: "f-%H.csv", Interval: time.Hour, Create: f.create,
		Warn: func(m string) { warnings = append(warnings, m) }})
	s.Begin(nil)
	for i := 0; i < 72; i++ {
		if err := s.Write(rec(uint64(i), t0+uint64(i)*3600_000)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	names := s.Files()
	if len(names) != 72 {
		t.Fatalf("%d files", len(names))
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("%s opened twice", n)
		}
		seen[n] = true
	}
	if names[0] != "f-12.csv" || names[24] != "f-12_2.csv" || names[48] != "f-12_3.csv" || names[12] != "f-00.csv" || names[36] != "f-00_2.csv" {
		t.Errorf("names %v", names)
	}
	sorted := slices.Sorted(slices.Values(names))
	for i := 1; i < len(sorted); i++ {
		// Every _<n> name follows its first name or the previous repeat.
		if base, _, ok := strings.Cut(sorted[i], "_"); ok && !strings.HasPrefix(sorted[i-1], base) {
			t.Errorf("%s sorts after %s", sorted[i], sorted[i-1])
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "f-12.csv") || !strings.Contains(warnings[0], "f-12_2.csv") {
		t.Errorf("warnings %q", warnings)
	}
}

// TestSequenceNamesSort: numbered names sort in sequence order.
func TestSequenceNamesSort(t *testing.T) {
	for _, tmpl := range []string{"flows.csv.gz", "f-%i.parquet", "flows"} {
		var names []string
		for seq := uint64(0); seq < 1200; seq++ {
			names = append(names, ExpandTemplate(tmpl, time.Time{}, seq))
		}
		if !slices.IsSorted(names) {
			t.Errorf("%s: names do not sort in sequence order", tmpl)
		}
	}
}

func TestTemplateRepeats(t *testing.T) {
	for _, c := range []struct {
		tmpl     string
		interval time.Duration
		flows    uint64
		repeats  bool
	}{
		{"f-%H.csv", time.Hour, 0, true},
		{"f-%Y%m%d-%H.csv", time.Hour, 0, false},
		{"%Y/%m/%d/f-%H.csv", time.Hour, 0, false},
		{"f-%Y%m%d-%H.csv", 30 * time.Minute, 0, true},
		{"f-%Y%m%d-%H%M.csv", 30 * time.Minute, 0, false},
		{"f-%Y%m%d.csv", 48 * time.Hour, 0, false},
		{"f-%Y%m%d.csv", 36 * time.Hour, 0, true},
		{"f-%m%d%H%M%S.csv", time.Second, 0, true}, // no year
		{"f-%Y%m%d%H%M%S.csv", 90 * time.Second, 0, false},
		{"f-%H-%i.csv", time.Hour, 0, false},
		{"flows.csv", time.Hour, 0, false},
		{"flows.csv", 0, 10, false},
		{"f-%Y%m%d%H.csv", time.Hour, 10, true},
		{"f-%Y%m%d%H%M%S.csv", 0, 10, true},
		{"f-%%i-%H.csv", time.Hour, 0, true}, // %%i is no %i
	} {
		msg := TemplateRepeats(c.tmpl, c.interval, c.flows)
		if (msg != "") != c.repeats {
			t.Errorf("TemplateRepeats(%q, %v, %d) = %q", c.tmpl, c.interval, c.flows, msg)
		}
	}
}

// deadPID is above any pid_max: no process has it.
const deadPID = 1 << 30

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	dead, live := strconv.Itoa(deadPID), strconv.Itoa(os.Getpid())
	files := map[string]bool{ // name: removed
		".flows.csv.tmp-" + dead + "-1":    true,
		".flows.csv.tmp-" + dead + "-17":   true,
		".flows.csv.tmp-" + live + "-2":    false, // a running process's
		".other.csv.tmp-" + dead + "-1":    false, // another output's
		".flows.csv.tmp-" + dead + "-x":    false, // not a temporary name
		"flows.csv":                        false,
		"flows.csv.tmp-" + dead + "-1":     false, // not hidden
		".flows.csv.gz.tmp-" + dead + "-1": false,
	}
	for name := range files {
		touch(t, filepath.Join(dir, name))
	}
	removed, err := RemoveStaleTemps(filepath.Join(dir, "flows.csv"), false)
	if err != nil {
		t.Fatal(err)
	}
	checkRemoved(t, dir, files, removed)

	// Through a symbolic link: the target's folder.
	other := t.TempDir()
	touch(t, filepath.Join(other, ".real.csv.tmp-"+dead+"-3"))
	os.Symlink(filepath.Join(other, "real.csv"), filepath.Join(dir, "link.csv"))
	if removed, _ := RemoveStaleTemps(filepath.Join(dir, "link.csv"), false); len(removed) != 1 || !strings.HasSuffix(removed[0], ".real.csv.tmp-"+dead+"-3") {
		t.Errorf("through a link: removed %v", removed)
	}
	// A folder that does not exist, or a device: nothing to do.
	if removed, err := RemoveStaleTemps(filepath.Join(dir, "none", "f.csv"), false); len(removed) != 0 || err != nil {
		t.Errorf("missing folder: %v %v", removed, err)
	}
}

func TestRemoveStaleTempsTemplate(t *testing.T) {
	dir := t.TempDir()
	dead, live := strconv.Itoa(deadPID), strconv.Itoa(os.Getpid())
	files := map[string]bool{
		"2024/.f-12.csv.tmp-" + dead + "-3":    true,
		"2024/.f-12_2.csv.tmp-" + dead + "-4":  true,
		"2023/.f-00.csv.tmp-" + dead + "-1":    true,
		"2024/.f-12.csv.tmp-" + live + "-5":    false,
		"2024/.f-1.csv.tmp-" + dead + "-1":     false, // %H is two digits
		"2024/.g-12.csv.tmp-" + dead + "-1":    false,
		"2024/.f-12.csv.gz.tmp-" + dead + "-1": false,
		"2024/f-12.csv":                        false,
		"abcd/.f-12.csv.tmp-" + dead + "-1":    false, // not a %Y folder
	}
	for name := range files {
		touch(t, filepath.Join(dir, name))
	}
	removed, err := RemoveStaleTemps(filepath.Join(dir, "%Y", "f-%H.csv"), true)
	if err != nil {
		t.Fatal(err)
	}
	checkRemoved(t, dir, files, removed)

	// A template without fields: NFStream's numbered names.
	dir = t.TempDir()
	files = map[string]bool{
		".flows.000003.csv.tmp-" + dead + "-1": true,
		".flows.000003.csv.tmp-" + live + "-1": false,
		".flows.csv.tmp-" + dead + "-1":        false,
		".flows.x.csv.tmp-" + dead + "-1":      false,
	}
	for name := range files {
		touch(t, filepath.Join(dir, name))
	}
	removed, err = RemoveStaleTemps(filepath.Join(dir, "flows.csv"), true)
	if err != nil {
		t.Fatal(err)
	}
	checkRemoved(t, dir, files, removed)
}

func checkRemoved(t *testing.T, dir string, files map[string]bool, removed []string) {
	t.Helper()
	var want []string
	for name, gone := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if gone != errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: removed %v, want %v", name, !gone, gone)
		}
		if gone {
			want = append(want, filepath.Join(dir, name))
		}
	}
	slices.Sort(want)
	slices.Sort(removed)
	if !slices.Equal(removed, want) {
		t.Errorf("reported removed %v, want %v", removed, want)
	}
}

// TestFileSinkAbort: Abort removes the temporary file and leaves the final
// name as it was; the sink refuses further use.
func TestFileSinkAbort(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"flows.csv", "flows.jsonl.zst", "flows.parquet"} {
		final := filepath.Join(dir, name)
		os.WriteFile(final, []byte("previous run\n"), 0o644)
		f, c, _, _ := FormatFromPath(final)
		s, err := (&FileConfig{Format: f, Text: c}).Create(final)
		if err != nil {
			t.Fatal(err)
		}
		s.Begin(testColumns("x"))
		s.Write(&features.Record{SPLTDirection: []int8{1}})
		s.(Aborter).Abort()
		s.(Aborter).Abort() // twice is harmless
		if err := s.Write(&features.Record{}); !errors.Is(err, ErrAborted) {
			t.Errorf("%s: Write after Abort = %v", name, err)
		}
		if err := s.Close(); !errors.Is(err, ErrAborted) {
			t.Errorf("%s: Close after Abort = %v", name, err)
		}
		if b, _ := os.ReadFile(final); string(b) != "previous run\n" {
			t.Errorf("%s: the old file changed: %q", name, b)
		}
		os.Remove(final)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("files left: %v", names)
	}
	// After Close, Abort does nothing.
	final := filepath.Join(dir, "done.csv")
	s, _ := (&FileConfig{}).Create(final)
	s.Begin(testColumns("x"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.(Aborter).Abort()
	if _, err := os.Stat(final); err != nil {
		t.Errorf("Abort after Close: %v", err)
	}
}

// TestRotatingAbort: the completed files stay, the current one goes.
func TestRotatingAbort(t *testing.T) {
	dir := t.TempDir()
	fc := FileConfig{Format: FormatCSV}
	s := NewRotating(RotateConfig{Template: filepath.Join(dir, "flows.csv"), Flows: 2, Create: fc.Create})
	s.Begin(testColumns("x"))
	for i := 0; i < 5; i++ {
		if err := s.Write(rec(uint64(i), t0)); err != nil {
			t.Fatal(err)
		}
	}
	var _ Aborter = s
	s.Abort()
	if err := s.Write(rec(5, t0)); !errors.Is(err, ErrAborted) {
		t.Errorf("Write after Abort = %v", err)
	}
	if err := s.Close(); !errors.Is(err, ErrAborted) {
		t.Errorf("Close after Abort = %v", err)
	}
	if names := listDir(t, dir); !slices.Equal(names, []string{"flows.000000.csv", "flows.000001.csv"}) {
		t.Errorf("files %v", names)
	}
}

// TestAbortPending removes the temporary files not committed yet, and only
// those.
func TestAbortPending(t *testing.T) {
	dir := t.TempDir()
	a, err := CreateAtomic(filepath.Join(dir, "a.csv"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := CreateAtomic(filepath.Join(dir, "b.csv"))
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("a"))
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Write([]byte("b"))
	os.WriteFile(filepath.Join(dir, "b.csv"), []byte("previous\n"), 0o644)
	AbortPending()
	if names := listDir(t, dir); !slices.Equal(names, []string{"a.csv", "b.csv"}) {
		t.Errorf("after AbortPending: %v", names)
	}
	if err := b.Commit(); err == nil {
		t.Error("Commit after AbortPending succeeded")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "b.csv")); string(got) != "previous\n" {
		t.Errorf("b.csv: %q", got)
	}
	b.Abort()
	AbortPending() // nothing pending: nothing happens
}

// TestLiveFlush: a live text file is under its final name from the start,
// and what is written reaches it within the flush period while the sink is
// still open, also through gzip.
func TestLiveFlush(t *testing.T) {
	for _, name := range []string{"live.csv", "live.csv.gz", "live.jsonl.zst"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			final := filepath.Join(dir, name)
			os.WriteFile(final, []byte("an old file, truncated\n"), 0o644)
			f, c, _, _ := FormatFromPath(final)
			s, err := (&FileConfig{Format: f, Text: c, LiveFlush: 20 * time.Millisecond}).Create(final)
			if err != nil {
				t.Fatal(err)
			}
			if names := listDir(t, dir); !slices.Equal(names, []string{name}) {
				t.Fatalf("files %v: want the final name only", names)
			}
			s.Begin(testColumns("x"))
			for i := 0; i < 3; i++ {
				s.Write(&features.Record{ID: uint64(i), SPLTDirection: []int8{1}})
			}
			readRows := func() int {
				b, _ := os.ReadFile(final)
				var r io.Reader = bytes.NewReader(b)
				switch c {
				case Gzip:
					zr, err := gzip.NewReader(r)
					if err != nil {
						return -1
					}
					r = zr
				case Zstd:
					return bytes.Count(zstdDecode(t, b), []byte("\n"))
				}
				got, _ := io.ReadAll(r) // an unfinished stream ends early
				return bytes.Count(got, []byte("\n"))
			}
			want := 4 // header and 3 rows
			if f == FormatJSONL {
				want = 3
			}
			deadline := time.Now().Add(10 * time.Second)
			for readRows() != want {
				if time.Now().After(deadline) {
					t.Fatalf("after 10 s the open file has %d lines, want %d", readRows(), want)
				}
				time.Sleep(10 * time.Millisecond)
			}
			// Writes while the flusher runs (the race detector checks
			// them).
			for i := 3; i < 2000; i++ {
				if err := s.Write(&features.Record{ID: uint64(i), SPLTDirection: []int8{1}}); err != nil {
					t.Fatal(err)
				}
				if i%500 == 0 {
					time.Sleep(25 * time.Millisecond)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := readRows(); got != want+1997 {
				t.Errorf("closed file has %d lines, want %d", got, want+1997)
			}
		})
	}
}

// zstdDecode decodes what it can of a zstd stream.
func zstdDecode(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	d, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	defer d.Close()
	io.Copy(&out, d)
	return out.Bytes()
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNewWriterLiveFlush: live output to standard output is flushed within
// the period, not held until 64 KiB gather.
func TestNewWriterLiveFlush(t *testing.T) {
	var out lockedBuffer
	s, err := (&FileConfig{Format: FormatJSONL, LiveFlush: 20 * time.Millisecond}).NewWriter(&out, "standard output")
	if err != nil {
		t.Fatal(err)
	}
	s.Begin(testColumns("x"))
	s.Write(&features.Record{ID: 1, SPLTDirection: []int8{1}})
	s.Write(&features.Record{ID: 2, SPLTDirection: []int8{1}})
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(out.String(), "\n") != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s standard output has %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := (&FileConfig{Format: FormatParquet}).NewWriter(&out, "standard output"); err == nil {
		t.Error("Parquet to a writer accepted")
	}
}
