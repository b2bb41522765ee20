package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfstream-go/nfstream/internal/output"
)

// TestOutputCharDevice: -o on a character device (a /dev/null made in a
// test folder) writes to it: no --format needed, the run succeeds, and
// the device is still a device, with nothing beside it.
func TestOutputCharDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making a character device needs root")
	}
	dir := t.TempDir()
	dev := filepath.Join(dir, "null")
	if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("cannot make a character device here: %v", err)
	}
	p := writeFile(t, "udp.pcap", udpCapture(t, 3))
	for _, extra := range [][]string{nil, {"--format", "jsonl"}, {"--format", "parquet"}} {
		r := runNFStream(t, nil, append([]string{"-r", p, "-o", dev}, extra...)...)
		if r.code != 0 || !strings.Contains(r.stderr, "3 flows") {
			t.Errorf("%v: exit %d, stderr %q", extra, r.code, r.stderr)
		}
		st, err := os.Lstat(dev)
		if err != nil || st.Mode().Type() != os.ModeDevice|os.ModeCharDevice {
			t.Fatalf("%v: after the run %s is %v (%v)", extra, dev, st.Mode(), err)
		}
	}
	if final, hidden := finalFiles(t, dir); !slices.Equal(final, []string{"null"}) || len(hidden) != 0 {
		t.Errorf("files %v, hidden %v", final, hidden)
	}
}

// TestOutputFIFO: -o on a FIFO writes to it; its reader gets the whole
// CSV, and the FIFO stays.
func TestOutputFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "flows.fifo")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		f, err := os.Open(fifo) // blocks until nfstream opens it
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- b
	}()
	p := writeFile(t, "udp.pcap", udpCapture(t, 3))
	r := runNFStream(t, nil, "-r", p, "-o", fifo, "-q")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var b []byte
	select {
	case b = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the FIFO's reader got no end of file")
	}
	header, rows := csvTableText(t, string(b))
	if header[0] != "id" || len(rows) != 3 {
		t.Errorf("the reader got %q", b)
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode().Type() != os.ModeNamedPipe {
		t.Errorf("after the run: %v %v", st, err)
	}
}

// TestOutputSymlink: -o on a symbolic link writes its target, in another
// folder; the link stays a link.
func TestOutputSymlink(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	target := filepath.Join(other, "real.csv")
	link := filepath.Join(dir, "flows.csv")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, "udp.pcap", udpCapture(t, 3))
	for round := 0; round < 2; round++ { // the target is new, then replaced
		r := runNFStream(t, nil, "-r", p, "-o", link, "-q")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if st, err := os.Lstat(link); err != nil || st.Mode().Type() != os.ModeSymlink {
			t.Fatalf("round %d: %s is no longer a link: %v %v", round, link, st, err)
		}
		if ids := csvIDs(t, target); !slices.Equal(ids, []uint64{0, 1, 2}) {
			t.Errorf("round %d: target ids %v", round, ids)
		}
		if final, hidden := finalFiles(t, other); !slices.Equal(final, []string{"real.csv"}) || len(hidden) != 0 {
			t.Errorf("round %d: target folder %v %v", round, final, hidden)
		}
	}
}

// TestOutputFolderRefused: -o naming a folder is a usage error found
// before any input is opened (a missing capture would be status 1).
func TestOutputFolderRefused(t *testing.T) {
	dir := t.TempDir()
	r := runNFStream(t, nil, "-r", filepath.Join(dir, "missing.pcap"), "-o", dir)
	if r.code != 2 || !strings.Contains(r.stderr, "folder") || strings.Contains(r.stderr, "missing.pcap") {
		t.Errorf("exit %d, stderr %q; want 2 and a message about the folder", r.code, r.stderr)
	}
	if final, hidden := finalFiles(t, dir); len(final)+len(hidden) != 0 {
		t.Errorf("files created: %v %v", final, hidden)
	}
	// A FIFO cannot be rotated.
	fifo := filepath.Join(dir, "f.csv")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	r = runNFStream(t, nil, "-r", filepath.Join(dir, "missing.pcap"), "-o", fifo, "--rotate-flows", "10")
	if r.code != 2 || !strings.Contains(r.stderr, "cannot be rotated") {
		t.Errorf("rotating a FIFO: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestRotateRepeatedNames: -o f-%H.csv --rotate 1h over 2.5 days: the
// hours repeat, but no file of the run is overwritten: every flow is in
// exactly one file, as many files exist as the run reports, and the user
// is warned.
func TestRotateRepeatedNames(t *testing.T) {
	start := time.Date(2024, 3, 1, 0, 30, 0, 0, time.UTC)
	p := writeFile(t, "flows.pcap", flowsCapture(t, 60, start, time.Hour))
	dir := t.TempDir()
	r := runNFStream(t, nil, "-r", p, "-o", filepath.Join(dir, "f-%H.csv"), "--rotate", "1h")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	final, hidden := finalFiles(t, dir)
	if len(hidden) != 0 {
		t.Errorf("temporary files left: %v", hidden)
	}
	m := regexp.MustCompile(`written to (\d+) files`).FindStringSubmatch(r.stderr)
	if m == nil || m[1] != strconv.Itoa(len(final)) {
		t.Errorf("stderr %q, but %d files exist", r.stderr, len(final))
	}
	if len(final) <= 24 {
		t.Errorf("%d files: hours of different days share a file?", len(final))
	}
	seen := map[uint64]string{}
	for _, f := range final {
		if !regexp.MustCompile(`^f-\d\d(_\d+)?\.csv$`).MatchString(f) {
			t.Errorf("unexpected name %s", f)
		}
		for _, id := range csvIDs(t, filepath.Join(dir, f)) {
			if prev, ok := seen[id]; ok {
				t.Errorf("flow %d in %s and %s", id, prev, f)
			}
			seen[id] = f
		}
	}
	if len(seen) != 60 {
		t.Errorf("%d flows in the files, want 60", len(seen))
	}
	if !slices.Contains(final, "f-00_2.csv") {
		t.Errorf("files %v: want f-00_2.csv for the second day's midnight", final)
	}
	if !strings.Contains(r.stderr, "nfstream: warning: ") || !strings.Contains(r.stderr, "_2") {
		t.Errorf("no warning about repeated names: %q", r.stderr)
	}
	// -q silences the warnings.
	q := runNFStream(t, nil, "-r", p, "-o", filepath.Join(t.TempDir(), "f-%H.csv"), "--rotate", "1h", "-q")
	if q.code != 0 || q.stderr != "" {
		t.Errorf("-q: exit %d, stderr %q", q.code, q.stderr)
	}
}

// deadPID is above any pid_max: no process has it.
const deadPID = 1 << 30

// TestStaleTempsRemoved: the temporary file a killed run left for the same
// output is removed at the next start (and said); one of a running process
// (here the test's own pid) is kept, as are other outputs' files.
func TestStaleTempsRemoved(t *testing.T) {
	p := writeFile(t, "udp.pcap", udpCapture(t, 3))
	dir := t.TempDir()
	stale := ".flows.csv.tmp-" + strconv.Itoa(deadPID) + "-1"
	running := ".flows.csv.tmp-" + strconv.Itoa(os.Getpid()) + "-1"
	otherOutput := ".other.csv.tmp-" + strconv.Itoa(deadPID) + "-1"
	for _, name := range []string{stale, running, otherOutput} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runNFStream(t, nil, "-r", p, "-o", filepath.Join(dir, "flows.csv"))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	final, hidden := finalFiles(t, dir)
	if !slices.Equal(final, []string{"flows.csv"}) || !slices.Equal(hidden, []string{running, otherOutput}) {
		t.Errorf("files %v, hidden %v", final, hidden)
	}
	if !strings.Contains(r.stderr, stale) || strings.Count(r.stderr, "\n") != 2 {
		t.Errorf("stderr %q: want one line about %s and the summary", r.stderr, stale)
	}

	// Rotated: the template's names, in its folders.
	sub := filepath.Join(dir, "2024")
	os.Mkdir(sub, 0o777)
	rotStale := filepath.Join(sub, ".f-12_2.csv.tmp-"+strconv.Itoa(deadPID)+"-7")
	os.WriteFile(rotStale, nil, 0o644)
	r = runNFStream(t, nil, "-r", p, "-o", filepath.Join(dir, "%Y", "f-%H.csv"), "--rotate", "1h", "-q")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(rotStale); !os.IsNotExist(err) {
		t.Errorf("%s not removed: %v", rotStale, err)
	}
}

// TestOpenedAbort: the sink openOutput hands the pipeline is an
// output.Aborter, also under --anonymize: Abort removes the file being
// written and leaves the previous file under the final name.
func TestOpenedAbort(t *testing.T) {
	dir := t.TempDir()
	final := filepath.Join(dir, "flows.csv")
	if err := os.WriteFile(final, []byte("previous\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var o options
	o.quiet = true
	o.out = outputOptions{path: final, anonymize: []string{"src_ip"}, changed: func(string) bool { return false }}
	cols := o.schema().Columns()
	if err := o.out.validate(cols); err != nil {
		t.Fatal(err)
	}
	out, err := o.openOutput(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := out.sink.(output.Aborter)
	if !ok {
		t.Fatalf("the sink %T is no output.Aborter", out.sink)
	}
	if err := out.sink.Begin(cols); err != nil {
		t.Fatal(err)
	}
	a.Abort()
	a.Abort() // twice is harmless
	if b, _ := os.ReadFile(final); string(b) != "previous\n" {
		t.Errorf("the previous file changed: %q", b)
	}
	if final, hidden := finalFiles(t, dir); len(final) != 1 || len(hidden) != 0 {
		t.Errorf("files %v, hidden %v", final, hidden)
	}
	if !out.failed() && out.sink.Close() == nil {
		t.Error("Close after Abort succeeded")
	}
}
