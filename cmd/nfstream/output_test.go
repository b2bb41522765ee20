package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// flowWriter writes a capture in which packet i is the only packet of
// flow i (UDP, source address and port from i), at start + i*gap.
type flowWriter struct {
	w     *pcapgo.Writer
	start time.Time
	gap   time.Duration
	next  int
}

func newFlowWriter(t testing.TB, w io.Writer, start time.Time, gap time.Duration) *flowWriter {
	t.Helper()
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	return &flowWriter{w: pw, start: start, gap: gap}
}

// write writes the next n packets.
func (f *flowWriter) write(n int) error {
	for k := 0; k < n; k++ {
		i := f.next
		eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: []byte{10, byte(i >> 16), byte(i >> 8), byte(i)}, DstIP: []byte{192, 0, 2, 1}}
		udp := &layers.UDP{SrcPort: layers.UDPPort(1024 + i%60000), DstPort: 53}
		udp.SetNetworkLayerForChecksum(ip)
		sb := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, udp, gopacket.Payload([]byte("flow payload"))); err != nil {
			return err
		}
		data := sb.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: f.start.Add(time.Duration(i) * f.gap), CaptureLength: len(data), Length: len(data)}
		if err := f.w.WritePacket(ci, data); err != nil {
			return err
		}
		f.next++
	}
	return nil
}

// flowsCapture returns a capture of n one-packet flows.
func flowsCapture(t testing.TB, n int, start time.Time, gap time.Duration) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := newFlowWriter(t, &buf, start, gap).write(n); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// csvTable reads a CSV file (gzip-compressed if its name says so) with
// encoding/csv; it fails the test on any defect, such as a truncated file.
func csvTable(t testing.TB, path string) (header []string, rows [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r = zr
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		t.Fatalf("%s: does not end with a complete line", path)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs[0], recs[1:]
}

// parquetIDs reads a Parquet file completely with Apache Arrow's reader
// (failing the test if it cannot: a truncated file has no footer) and
// returns its id column.
func parquetIDs(t testing.TB, path string) []uint64 {
	t.Helper()
	tbl := readParquet(t, path)
	idx := tbl.Schema().FieldIndices("id")
	if len(idx) != 1 {
		t.Fatalf("%s: no id column", path)
	}
	var ids []uint64
	for _, chunk := range tbl.Column(idx[0]).Data().Chunks() {
		for _, v := range chunk.(*array.Int64).Int64Values() {
			ids = append(ids, uint64(v))
		}
	}
	return ids
}

func readParquet(t testing.TB, path string) arrow.Table {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("%s is not a complete Parquet file: %v", path, err)
	}
	t.Cleanup(func() { pf.Close() })
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 4096}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	t.Cleanup(tbl.Release)
	return tbl
}

// csvIDs returns the id column of a CSV file.
func csvIDs(t testing.TB, path string) []uint64 {
	t.Helper()
	header, rows := csvTable(t, path)
	if header[0] != "id" {
		t.Fatalf("%s: header %v", path, header)
	}
	ids := make([]uint64, len(rows))
	for i, r := range rows {
		v, err := strconv.ParseUint(r[0], 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ids[i] = v
	}
	return ids
}

// checkIDs checks that the files, in order, hold the ids 0..n-1 once each
// and in order: no flow lost or duplicated across files.
func checkIDs(t testing.TB, perFile [][]uint64, n int) {
	t.Helper()
	var all []uint64
	for _, ids := range perFile {
		all = append(all, ids...)
	}
	if len(all) != n {
		t.Fatalf("%d flows in the files, want %d", len(all), n)
	}
	for i, id := range all {
		if id != uint64(i) {
			t.Fatalf("flow %d has id %d: lost, duplicated or out of order", i, id)
		}
	}
}

// finalFiles lists the names in dir that do not start with a dot.
func finalFiles(t testing.TB, dir string) (final, hidden []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			hidden = append(hidden, e.Name())
		} else {
			final = append(final, e.Name())
		}
	}
	return final, hidden
}

// TestOutputFlagErrors: bad output flags are usage errors (status 2),
// found before any file is created.
func TestOutputFlagErrors(t *testing.T) {
	p := writeFile(t, "udp.pcap", udpCapture(t, 2))
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		say  string
	}{
		{[]string{"-o", "-", "--format", "parquet"}, "standard output"},
		{[]string{"--format", "parquet"}, "standard output"},
		{[]string{"-o", filepath.Join(dir, "f.parquet.gz")}, "Parquet"},
		{[]string{"-o", filepath.Join(dir, "f.gz"), "--format", "parquet"}, "Parquet"},
		{[]string{"-o", filepath.Join(dir, "f.txt")}, "extension"},
		{[]string{"-o", filepath.Join(dir, "f.csv"), "--compression", "zstd"}, "compression"},
		{[]string{"-o", filepath.Join(dir, "f.parquet"), "--compression", "lzma"}, "compression"},
		{[]string{"-o", filepath.Join(dir, "f.parquet"), "--row-group-rows", "0"}, "row-group-rows"},
		{[]string{"-o", filepath.Join(dir, "f.csv"), "--rotate", "-1m"}, "rotate"},
		{[]string{"-o", filepath.Join(dir, "f.csv"), "--rotate", "10ms"}, "rotate"},
		{[]string{"-o", filepath.Join(dir, "f.csv"), "--rotate", "often"}, "rotate"},
		{[]string{"-o", filepath.Join(dir, "f.csv"), "--rotate-flows", "-1"}, "rotate-flows"},
		{[]string{"--rotate-flows", "10"}, "standard output"},
		{[]string{"-o", filepath.Join(dir, "f-%q.csv"), "--rotate", "1m"}, "%q"},
		{[]string{"-o", filepath.Join(dir, "f.csv"), "--anonymize", "src_ip,no_such_column"}, "no_such_column"},
		{[]string{"-o", filepath.Join(dir, "f.csv"), "--anonymize", "bidirectional_mean_ps"}, "bidirectional_mean_ps"}, // needs --stats
		{[]string{"-o", filepath.Join(dir, "f.csv"), "--anonymize-key", "/etc/hostname"}, "anonymize"},
	} {
		r := runNFStream(t, nil, append([]string{"-r", p}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.say) || !strings.HasPrefix(r.stderr, "nfstream: ") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message with %q", c.args, r.code, r.stderr, c.say)
		}
		if r.stdout != "" {
			t.Errorf("%v: wrote %q to standard output", c.args, r.stdout)
		}
	}
	if final, hidden := finalFiles(t, dir); len(final)+len(hidden) != 0 {
		t.Errorf("files created: %v %v", final, hidden)
	}
}

// TestParquetOutput writes Parquet through the command and compares it,
// read by Apache Arrow, with the CSV of the same flags.
func TestParquetOutput(t *testing.T) {
	root := corpus.RepoRoot(t)
	dir := t.TempDir()
	flags := []string{"-r", filepath.Join(root, "testdata", "eth_ipv4.pcap"), "-r", filepath.Join(root, "testdata", "eth_ipv6.pcap"), "--stats", "--splt", "10", "-q"}
	pq := filepath.Join(dir, "flows.parquet")
	if r := runNFStream(t, nil, append(flags, "-o", pq, "--compression", "snappy", "--row-group-rows", "3")...); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	r := runNFStream(t, nil, flags...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	tbl := readParquet(t, pq)
	if int(tbl.NumRows()) != len(recs)-1 || int(tbl.NumCols()) != len(recs[0]) {
		t.Fatalf("Parquet %dx%d, CSV %dx%d", tbl.NumRows(), tbl.NumCols(), len(recs)-1, len(recs[0]))
	}
	for c, f := range tbl.Schema().Fields() {
		if f.Name != recs[0][c] {
			t.Fatalf("column %d: %s in Parquet, %s in CSV", c, f.Name, recs[0][c])
		}
		row := 1
		for _, chunk := range tbl.Column(c).Data().Chunks() {
			for i := 0; i < chunk.Len(); i++ {
				got := chunk.ValueStr(i)
				want := recs[row][c]
				if _, ok := chunk.(*array.Float64); ok {
					g, _ := strconv.ParseFloat(got, 64)
					w, _ := strconv.ParseFloat(want, 64)
					got, want = fmt.Sprint(g), fmt.Sprint(w)
				}
				if _, ok := chunk.(*array.List); ok {
					got = strings.ReplaceAll(got, ",", ", ")
				}
				if got != want {
					t.Errorf("row %d %s: Parquet %q, CSV %q", row-1, f.Name, got, want)
				}
				row++
			}
		}
	}
	md := readParquetMetadata(t, pq)
	for k, want := range map[string]string{"nfstream.version": version, "nfstream.splt_analysis": "10",
		"nfstream.statistical_analysis": "true", "nfstream.idle_timeout": "120", "nfstream.accounting_mode": "0"} {
		if md[k] != want {
			t.Errorf("metadata %s = %q, want %q", k, md[k], want)
		}
	}
	if !strings.Contains(md["nfstream.source"], "eth_ipv6.pcap") {
		t.Errorf("metadata nfstream.source = %q", md["nfstream.source"])
	}
	if _, ok := md["nfstream.ndpi_version"]; !ok {
		t.Error("no nfstream.ndpi_version in the metadata")
	}
}

func readParquetMetadata(t testing.TB, path string) map[string]string {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	md := map[string]string{}
	kv := pf.MetaData().KeyValueMetadata()
	for i, k := range kv.Keys() {
		md[k] = kv.Values()[i]
	}
	return md
}

// TestRotateByInterval runs over a capture spanning several minutes of
// packet time with --rotate 1m: one complete file per minute in which
// flows expire, named by the template, and every flow exactly once.
func TestRotateByInterval(t *testing.T) {
	// 100 one-packet flows 7 s apart from 12:00:30: 11 minutes and a half.
	start := time.Date(2024, 3, 1, 12, 0, 30, 0, time.UTC)
	p := writeFile(t, "flows.pcap", flowsCapture(t, 100, start, 7*time.Second))
	for _, ext := range []string{"csv", "parquet"} {
		dir := t.TempDir()
		r := runNFStream(t, nil, "-r", p, "--idle-timeout", "30", "-o", filepath.Join(dir, "flows-%Y%m%d-%H%M%S."+ext), "--rotate", "1m")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		// Each flow's only packet is at start + 7i s. It expires in the
		// idle scan at the first packet at least 30 s later, the one at
		// start + 7(i+5) s; the last five are expired by the end of the
		// capture, at the last packet (start + 7*99 s). A flow belongs to
		// the minute in which it expires.
		want := map[string][]uint64{}
		var names []string
		for i := 0; i < 100; i++ {
			m := start.Add(time.Duration(min(i+5, 99)) * 7 * time.Second).Truncate(time.Minute)
			name := "flows-" + m.Format("20060102-150405") + "." + ext
			if want[name] == nil {
				names = append(names, name)
			}
			want[name] = append(want[name], uint64(i))
		}
		final, hidden := finalFiles(t, dir)
		if !slices.Equal(final, names) || len(hidden) != 0 {
			t.Fatalf("%s: files %v (hidden %v), want %v", ext, final, hidden, names)
		}
		var perFile [][]uint64
		for _, name := range names {
			var ids []uint64
			if ext == "csv" {
				ids = csvIDs(t, filepath.Join(dir, name))
			} else {
				ids = parquetIDs(t, filepath.Join(dir, name))
			}
			if !slices.Equal(ids, want[name]) {
				t.Errorf("%s: ids %v, want %v", name, ids, want[name])
			}
			perFile = append(perFile, ids)
		}
		checkIDs(t, perFile, 100)
		if !strings.Contains(r.stderr, fmt.Sprintf("%d files", len(names))) {
			t.Errorf("stderr %q", r.stderr)
		}
	}
}

// TestRotateTestdataCaptures rotates the generated captures that span long
// periods: the files, concatenated, hold exactly the rows of the run
// without rotation, and each file's flows expire in its interval.
func TestRotateTestdataCaptures(t *testing.T) {
	root := corpus.RepoRoot(t)
	for _, name := range []string{"timeouts_idle.pcap", "timeouts_active.pcap"} {
		capPath := filepath.Join(root, "testdata", name)
		whole := runNFStream(t, nil, "-r", capPath)
		if whole.code != 0 {
			t.Fatalf("%s: %s", name, whole.stderr)
		}
		wantHeader, wantRows := csvTableText(t, whole.stdout)
		dir := t.TempDir()
		r := runNFStream(t, nil, "-r", capPath, "-o", filepath.Join(dir, "f-%H%M%S-%i.csv.gz"), "--rotate", "1s")
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", name, r.code, r.stderr)
		}
		final, hidden := finalFiles(t, dir)
		if len(final) < 2 || len(hidden) != 0 {
			t.Fatalf("%s: files %v, hidden %v: want several", name, final, hidden)
		}
		nameRE := regexp.MustCompile(`^f-(\d\d)(\d\d)(\d\d)-(\d+)\.csv\.gz$`)
		slices.SortFunc(final, func(a, b string) int { // by sequence number
			na, _ := strconv.Atoi(nameRE.FindStringSubmatch(a)[4])
			nb, _ := strconv.Atoi(nameRE.FindStringSubmatch(b)[4])
			return na - nb
		})
		var rows [][]string
		prevHMS := ""
		for seq, f := range final {
			m := nameRE.FindStringSubmatch(f)
			if m == nil || m[4] != fmt.Sprintf("%06d", seq) {
				t.Fatalf("%s: file %q does not follow the template", name, f)
			}
			header, fileRows := csvTable(t, filepath.Join(dir, f))
			if !slices.Equal(header, wantHeader) {
				t.Fatalf("%s: header of %s differs", name, f)
			}
			if len(fileRows) == 0 {
				t.Errorf("%s: %s is empty", name, f)
			}
			// A flow expires at or after its last packet, and files
			// follow each other in time: a file never holds a flow whose
			// last packet is later than the file's interval.
			lastSeen := slices.Index(header, "bidirectional_last_seen_ms")
			hms := m[1] + m[2] + m[3]
			for _, row := range fileRows {
				ls, _ := strconv.ParseUint(row[lastSeen], 10, 64)
				at := time.UnixMilli(int64(ls)).UTC().Truncate(time.Second)
				if at.Format("150405") > hms {
					t.Errorf("%s: flow %s last seen at %s filed in the earlier %s", name, row[0], at.Format("15:04:05"), f)
				}
			}
			if hms < prevHMS {
				t.Errorf("%s: %s comes before the previous file's interval", name, f)
			}
			prevHMS = hms
			rows = append(rows, fileRows...)
		}
		if !slices.EqualFunc(rows, wantRows, slices.Equal[[]string]) {
			t.Errorf("%s: the rotated files hold other rows than the single output", name)
		}
	}
}

func csvTableText(t testing.TB, text string) ([]string, [][]string) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs[0], recs[1:]
}

// TestRotateByFlows: --rotate-flows N gives NFStream's flows_per_file
// names, N flows per file.
func TestRotateByFlows(t *testing.T) {
	p := writeFile(t, "flows.pcap", flowsCapture(t, 10, time.Unix(1700000000, 0), time.Millisecond))
	dir := t.TempDir()
	r := runNFStream(t, nil, "-r", p, "-o", filepath.Join(dir, "flows.jsonl"), "--rotate-flows", "3", "-q")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	final, _ := finalFiles(t, dir)
	if !slices.Equal(final, []string{"flows.000000.jsonl", "flows.000001.jsonl", "flows.000002.jsonl", "flows.000003.jsonl"}) {
		t.Fatalf("files %v", final)
	}
	var perFile [][]uint64
	for i, f := range final {
		data, _ := os.ReadFile(filepath.Join(dir, f))
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		want := 3
		if i == 3 {
			want = 1
		}
		if len(lines) != want {
			t.Errorf("%s: %d flows, want %d", f, len(lines), want)
		}
		var ids []uint64
		for _, l := range lines {
			id, err := strconv.ParseUint(strings.TrimPrefix(strings.SplitN(l, ",", 2)[0], `{"id":`), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", f, l)
			}
			ids = append(ids, id)
		}
		perFile = append(perFile, ids)
	}
	checkIDs(t, perFile, 10)
}

// streamRun runs nfstream reading a capture of one-packet flows from a
// pipe the test feeds, 10 ms of packet time apart, so the run lasts as
// long as the test wants.
type streamRun struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stderr         bytes.Buffer
	fw             *flowWriter
	bw             *bufio.Writer
	stopFeed, done chan struct{}
	fed            int // packets written, once done
}

func startStream(t *testing.T, args ...string) *streamRun {
	t.Helper()
	s := &streamRun{cmd: exec.Command(nfstreamBin, append([]string{"-r", "-"}, args...)...),
		stopFeed: make(chan struct{}), done: make(chan struct{})}
	s.cmd.Stderr = &s.stderr
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill(); s.stopFeeding() })
	s.bw = bufio.NewWriter(s.stdin)
	s.fw = newFlowWriter(t, s.bw, time.Unix(1700000000, 0), 10*time.Millisecond)
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.stopFeed:
				s.fed = s.fw.next
				return
			default:
			}
			// 200 packets (2 s of packet time) at a time, then a pause.
			if s.fw.write(200) != nil || s.bw.Flush() != nil {
				s.fed = s.fw.next
				return // the process is gone
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return s
}

// stopFeeding stops writing and returns how many packets were written.
func (s *streamRun) stopFeeding() int {
	select {
	case <-s.stopFeed:
	default:
		close(s.stopFeed)
	}
	<-s.done
	return s.fed
}

// waitFor polls until cond holds, or fails the test after 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func exitStatus(err error) int {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return exit.ExitCode()
	}
	if err != nil {
		return -1000
	}
	return 0
}

// TestKillMidRun kills the process (SIGKILL) while it writes rotated
// files: every file under its final name is complete; what was being
// written is only a hidden temporary file.
func TestKillMidRun(t *testing.T) {
	for _, name := range []string{"flows.parquet", "flows.csv.gz"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := startStream(t, "--idle-timeout", "1", "--rotate-flows", "500", "-o", filepath.Join(dir, name))
			waitFor(t, "three complete files", func() bool { f, _ := finalFiles(t, dir); return len(f) >= 3 })
			if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			err := s.cmd.Wait()
			s.stopFeeding()
			if st := exitStatus(err); st != -int(syscall.SIGKILL) {
				t.Fatalf("status %d after SIGKILL", st)
			}
			final, hidden := finalFiles(t, dir)
			var perFile [][]uint64
			for i := range final {
				// Files in sequence order: flows.<i>.<ext>.
				path := filepath.Join(dir, strings.Replace(name, ".", fmt.Sprintf(".%06d.", i), 1))
				var ids []uint64
				if strings.HasSuffix(name, ".parquet") {
					ids = parquetIDs(t, path)
				} else {
					ids = csvIDs(t, path)
				}
				if len(ids) != 500 {
					t.Errorf("%s: %d flows, want 500", path, len(ids))
				}
				perFile = append(perFile, ids)
			}
			checkIDs(t, perFile, 500*len(final))
			t.Logf("after SIGKILL: %d complete files, hidden %v", len(final), hidden)
		})
	}
}

// TestTerminate sends SIGTERM while the process reads: it stops reading,
// writes every flow read so far, closes the files properly and exits with
// status 130.
func TestTerminate(t *testing.T) {
	dir := t.TempDir()
	s := startStream(t, "--idle-timeout", "1", "--rotate-flows", "500", "-o", filepath.Join(dir, "flows.parquet"))
	waitFor(t, "two complete files", func() bool { f, _ := finalFiles(t, dir); return len(f) >= 2 })
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Keep feeding: the reader notices the signal between records.
	err := s.cmd.Wait()
	fed := s.stopFeeding()
	if st := exitStatus(err); st != 130 {
		t.Fatalf("status %d after SIGTERM, want 130; stderr %s", st, s.stderr.String())
	}
	m := regexp.MustCompile(`(\d+) flows from (\d+) packets`).FindStringSubmatch(s.stderr.String())
	if m == nil || m[1] != m[2] {
		t.Fatalf("stderr %q: want as many flows as packets", s.stderr.String())
	}
	flows, _ := strconv.Atoi(m[1])
	final, hidden := finalFiles(t, dir)
	if len(hidden) != 0 {
		t.Errorf("temporary files left: %v", hidden)
	}
	var perFile [][]uint64
	for i := range final {
		perFile = append(perFile, parquetIDs(t, filepath.Join(dir, fmt.Sprintf("flows.%06d.parquet", i))))
	}
	checkIDs(t, perFile, flows)
	if flows == 0 || flows > fed {
		t.Errorf("%d flows written, %d packets fed", flows, fed)
	}
	t.Logf("SIGTERM: %d flows in %d files, %d packets fed", flows, len(final), fed)
}

// TestSIGHUP: SIGHUP closes the current file and the next flows go to a
// new one.
func TestSIGHUP(t *testing.T) {
	dir := t.TempDir()
	s := startStream(t, "--idle-timeout", "1", "--rotate-flows", "100000000", "-o", filepath.Join(dir, "flows.csv"))
	temp := func() bool { _, h := finalFiles(t, dir); return len(h) == 1 }
	for seq := 0; seq < 2; seq++ {
		waitFor(t, "a file being written", temp)
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("flows.%06d.csv", seq)
		waitFor(t, want, func() bool { _, err := os.Stat(filepath.Join(dir, want)); return err == nil })
	}
	waitFor(t, "a third file being written", temp)
	s.stopFeeding()
	s.stdin.Close() // end of capture: the run ends normally
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, s.stderr.String())
	}
	final, hidden := finalFiles(t, dir)
	if !slices.Equal(final, []string{"flows.000000.csv", "flows.000001.csv", "flows.000002.csv"}) || len(hidden) != 0 {
		t.Fatalf("files %v, hidden %v", final, hidden)
	}
	var perFile [][]uint64
	for _, f := range final {
		ids := csvIDs(t, filepath.Join(dir, f))
		if len(ids) == 0 {
			t.Errorf("%s is empty", f)
		}
		perFile = append(perFile, ids)
	}
	checkIDs(t, perFile, s.fed)
}

// TestDiskFull writes to a 64 KiB tmpfs: the run stops with an error
// naming the file, status 1, and nothing partial under a final name.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s); the disk-full test needs it", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	// Enough flows that even zstd-compressed JSONL overflows 64 KiB.
	p := writeFile(t, "flows.pcap", flowsCapture(t, 20000, time.Unix(1700000000, 0), time.Millisecond))
	for _, c := range []struct {
		name  string
		flags []string
	}{
		{"flows.csv", nil},
		{"flows.jsonl.zst", nil},
		{"flows.parquet", []string{"--compression", "none", "--row-group-rows", "100"}},
		{"rotated.csv", []string{"--rotate-flows", "20"}},
	} {
		out := filepath.Join(dir, c.name)
		r := runNFStream(t, nil, append([]string{"-r", p, "--stats", "--splt", "10", "-o", out}, c.flags...)...)
		final, hidden := finalFiles(t, dir)
		t.Cleanup(func() {
			for _, f := range append(final, hidden...) {
				os.Remove(filepath.Join(dir, f))
			}
		})
		if len(hidden) != 0 {
			t.Errorf("%s: temporary files left: %v", c.name, hidden)
		}
		if c.flags == nil || c.flags[0] != "--rotate-flows" {
			want := fmt.Sprintf("nfstream: write %q: no space left on device\n", out)
			if r.code != 1 || r.stderr != want {
				t.Errorf("%s: exit %d, stderr %q; want 1 and %q", c.name, r.code, r.stderr, want)
			}
			if len(final) != 0 {
				t.Errorf("%s: files left: %v", c.name, final)
			}
			continue
		}
		// Rotated: the files completed before the disk filled stay, whole;
		// the one being written is named in the error and removed.
		if r.code != 1 || !strings.Contains(r.stderr, "no space left on device") {
			t.Errorf("%s: exit %d, stderr %q", c.name, r.code, r.stderr)
		}
		var perFile [][]uint64
		for i := range final {
			perFile = append(perFile, csvIDs(t, filepath.Join(dir, fmt.Sprintf("rotated.%06d.csv", i))))
		}
		if len(final) == 0 || !strings.Contains(r.stderr, fmt.Sprintf("%q", filepath.Join(dir, fmt.Sprintf("rotated.%06d.csv", len(final))))) {
			t.Errorf("%s: files %v, stderr %q", c.name, final, r.stderr)
		}
		checkIDs(t, perFile, 20*len(final))
	}
}

// TestAnonymize: hashed columns are the keyed BLAKE2b-512 of the value's
// text (checked with Python's hashlib when present); with a key file two
// runs agree, without one they do not.
func TestAnonymize(t *testing.T) {
	p := writeFile(t, "udp.pcap", udpCapture(t, 3))
	key := bytes.Repeat([]byte{0xa5}, 64)
	keyFile := writeFile(t, "key.hex", []byte(hex.EncodeToString(key)+"\n"))
	args := []string{"-r", p, "--anonymize", "src_ip,src_port", "--anonymize-key", keyFile}
	a, b := runNFStream(t, nil, args...), runNFStream(t, nil, args...)
	if a.code != 0 || a.stdout != b.stdout {
		t.Fatalf("two runs with one key differ (exit %d, %s)", a.code, a.stderr)
	}
	header, rows := csvTableText(t, a.stdout)
	ip, port := slices.Index(header, "src_ip"), slices.Index(header, "src_port")
	if len(rows[0][ip]) != 128 || rows[0][ip] != rows[1][ip] || rows[0][port] == rows[1][port] {
		t.Errorf("digests: %q %q, ports %q %q", rows[0][ip], rows[1][ip], rows[0][port], rows[1][port])
	}
	if py, err := exec.LookPath("python3"); err == nil {
		out, err := exec.Command(py, "-c", `
import hashlib, sys
key = bytes.fromhex(sys.argv[1])
for v in ("10.0.0.1", 1000):
    print(hashlib.blake2b(str(v).encode(), key=key, digest_size=64).hexdigest())
`, hex.EncodeToString(key)).Output()
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Fields(string(out))
		if rows[0][ip] != want[0] || rows[0][port] != want[1] {
			t.Errorf("src_ip %s, src_port %s; Python says %s and %s", rows[0][ip], rows[0][port], want[0], want[1])
		}
	}
	c := runNFStream(t, nil, "-r", p, "--anonymize", "src_ip")
	d := runNFStream(t, nil, "-r", p, "--anonymize", "src_ip")
	if c.code != 0 || c.stdout == d.stdout {
		t.Errorf("random keys: runs should differ (exit %d)", c.code)
	}
	// In Parquet the hashed port is a string column.
	pq := filepath.Join(t.TempDir(), "a.parquet")
	if r := runNFStream(t, nil, append(args, "-o", pq)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	tbl := readParquet(t, pq)
	f := tbl.Schema().Field(port)
	if f.Type.ID() != arrow.STRING || tbl.Column(port).Data().Chunk(0).ValueStr(0) != rows[0][port] {
		t.Errorf("Parquet src_port: %s %q", f.Type, tbl.Column(port).Data().Chunk(0).ValueStr(0))
	}
	if md := readParquetMetadata(t, pq); md["nfstream.anonymized_columns"] != "src_ip,src_port" {
		t.Errorf("metadata %v", md)
	}
	// A bad key file is an error naming it.
	bad := writeFile(t, "bad.key", []byte("short"))
	if r := runNFStream(t, nil, "-r", p, "--anonymize", "src_ip", "--anonymize-key", bad); r.code != 1 || !strings.Contains(r.stderr, bad) {
		t.Errorf("bad key: exit %d, %q", r.code, r.stderr)
	}
}
