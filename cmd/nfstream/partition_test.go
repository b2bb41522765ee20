package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/nfstream-go/nfstream/internal/testing/corpus"
	"github.com/nfstream-go/nfstream/internal/testing/testgen"
)

// Partitioned output and shards (docs/partitions.md).

// multiHourCapture writes a capture with testgen's large-capture
// generator spanning several hours of packet time: 60,000 packets over
// 6,000 flows at 5 packets/s (3 h 20 min from 2024-03-01 12:00 UTC), 40
// flows at a time, so flows are split by the idle timeout and expired by
// idle scans.
func multiHourCapture(t *testing.T) string {
	t.Helper()
	path, err := testgen.LargeFile(t.TempDir(), testgen.LargeConfig{
		Packets: 60_000, Flows: 6_000, Concurrent: 40, PacketsPerSecond: 5, Seed: 15,
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// tableRows renders every row of an Arrow table as text, column by
// column in the order of names; a name the table lacks takes its value
// from extra (the partition values of the file's path).
func tableRows(t *testing.T, tbl arrow.Table, names []string, extra map[string]string) []string {
	t.Helper()
	n := int(tbl.NumRows())
	rows := make([][]string, n)
	for _, name := range names {
		idx := tbl.Schema().FieldIndices(name)
		if len(idx) == 0 {
			v, ok := extra[name]
			if !ok {
				t.Fatalf("no column %s in the file nor in its path", name)
			}
			for i := range rows {
				rows[i] = append(rows[i], v)
			}
			continue
		}
		i := 0
		for _, chunk := range tbl.Column(idx[0]).Data().Chunks() {
			for j := 0; j < chunk.Len(); j++ {
				rows[i] = append(rows[i], chunk.ValueStr(j))
				i++
			}
		}
	}
	out := make([]string, n)
	for i, r := range rows {
		out[i] = strings.Join(r, "\x1f")
	}
	return out
}

func schemaNames(tbl arrow.Table) []string {
	var names []string
	for _, f := range tbl.Schema().Fields() {
		names = append(names, f.Name)
	}
	return names
}

// partFiles lists the *.parquet files under dir, and fails on a hidden
// temporary file left behind.
func partFiles(t *testing.T, dir string) []string {
	t.Helper()
	return listParts(t, dir, true)
}

// listParts lists the *.parquet files under dir; with done, a hidden
// temporary file fails the test.
func listParts(t *testing.T, dir string, done bool) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if done && strings.HasPrefix(d.Name(), ".") {
			t.Errorf("temporary file left: %s", p)
		}
		if strings.HasSuffix(p, ".parquet") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// pathValues returns the key=value folders of a part file's path.
func pathValues(dir, file string) map[string]string {
	rel, _ := filepath.Rel(dir, filepath.Dir(file))
	m := map[string]string{}
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if k, v, ok := strings.Cut(part, "="); ok {
			m[k] = v
		}
	}
	return m
}

// TestPartitionedOutput: the partitioned output of a capture spanning
// several hours holds, read back with Apache Arrow's reader, exactly the
// rows of the unpartitioned output (ids too), each in the folder of its
// bidirectional_first_seen_ms hour (and protocol), the protocol column
// only in the path when it is a key.
func TestPartitionedOutput(t *testing.T) {
	capture := multiHourCapture(t)
	dir := t.TempDir()
	flat := filepath.Join(dir, "flat.parquet")
	if r := runNFStream(t, nil, "-q", "-r", capture, "--stats", "-o", flat); r.code != 0 {
		t.Fatalf("flat run: %d %s", r.code, r.stderr)
	}
	ftbl := readParquet(t, flat)
	names := schemaNames(ftbl)
	want := tableRows(t, ftbl, names, nil)
	sort.Strings(want)
	for _, by := range []string{"date,hour", "protocol,date,hour"} {
		out := filepath.Join(dir, strings.ReplaceAll(by, ",", "-")) + "/"
		if r := runNFStream(t, nil, "-q", "-r", capture, "--stats", "-o", out, "--partition-by", by); r.code != 0 {
			t.Fatalf("--partition-by %s: %d %s", by, r.code, r.stderr)
		}
		var got []string
		hours := map[string]bool{}
		for _, f := range partFiles(t, out) {
			tbl := readParquet(t, f)
			vals := pathValues(out, f)
			if strings.HasPrefix(by, "protocol") {
				if slices.Contains(schemaNames(tbl), "protocol") {
					t.Errorf("%s: the protocol column is in the file and in the path", f)
				}
			}
			rows := tableRows(t, tbl, names, vals)
			seen := tableRows(t, tbl, []string{"bidirectional_first_seen_ms"}, nil)
			for _, ms := range seen {
				v, _ := strconv.ParseInt(ms, 10, 64)
				tm := time.UnixMilli(v).UTC()
				if tm.Format("2006-01-02") != vals["date"] || strconv.Itoa(tm.Hour()) != vals["hour"] {
					t.Fatalf("%s: a flow first seen at %v", f, tm)
				}
			}
			hours[vals["date"]+" "+vals["hour"]] = true
			got = append(got, rows...)
		}
		if len(hours) < 3 {
			t.Errorf("--partition-by %s: %d hours, want the capture's 4", by, len(hours))
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("--partition-by %s: %d rows, the flat output %d; they differ", by, len(got), len(want))
		}
	}
}

// duckDB returns a function running SQL queries in DuckDB (its Node.js
// client, installed by scripts/deps.sh in ~/.cache/nfstream-test/duckdb, or
// here when missing), each query's rows as JSON; or skips the test with
// the reason.
func duckDB(t *testing.T) func(query string) [][]any {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("DuckDB: node is not installed (scripts/deps.sh installs nodejs and @duckdb/node-api)")
	}
	home, _ := os.UserHomeDir()
	cache := os.Getenv("NFSTREAM_DUCKDB")
	if cache == "" {
		cache = filepath.Join(home, ".cache", "nfstream-test", "duckdb")
	}
	module := filepath.Join(cache, "node_modules", "@duckdb", "node-api")
	if _, err := os.Stat(module); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Skip("DuckDB: @duckdb/node-api is not installed and npm is missing (scripts/deps.sh installs them)")
		}
		os.MkdirAll(cache, 0o777)
		cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--prefix", cache, "@duckdb/node-api")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("DuckDB: npm install @duckdb/node-api failed: %v: %s", err, out)
		}
	}
	script := filepath.Join(t.TempDir(), "query.js")
	js := `const d = require(process.argv[2]);
(async () => {
  const db = await d.DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const r = await c.runAndReadAll(process.argv[3]);
  console.log(JSON.stringify(r.getRowsJson()));
})().catch(e => { console.error(String(e)); process.exit(1); });
`
	if err := os.WriteFile(script, []byte(js), 0o666); err != nil {
		t.Fatal(err)
	}
	return func(query string) [][]any {
		t.Helper()
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(node, script, module, query)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("DuckDB: %v: %s\nquery: %s", err, stderr.String(), query)
		}
		var rows [][]any
		if err := json.Unmarshal(stdout.Bytes(), &rows); err != nil {
			t.Fatalf("DuckDB output %q: %v", stdout.String(), err)
		}
		return rows
	}
}

// TestPartitionedDuckDB: DuckDB reads the partitioned output of a capture
// spanning several hours as one Hive-partitioned dataset; with a filter on
// the partition columns it returns exactly the rows of the unpartitioned
// output whose bidirectional_first_seen_ms falls in that hour (and
// protocol), every column compared, and it reads only that partition's
// files.
func TestPartitionedDuckDB(t *testing.T) {
	query := duckDB(t)
	capture := multiHourCapture(t)
	dir := t.TempDir()
	flat := filepath.Join(dir, "flat.parquet")
	out := filepath.Join(dir, "tree") + "/"
	if r := runNFStream(t, nil, "-q", "-r", capture, "--stats", "-o", flat); r.code != 0 {
		t.Fatalf("flat run: %d %s", r.code, r.stderr)
	}
	if r := runNFStream(t, nil, "-q", "-r", capture, "--stats", "-o", out, "--partition-by", "date,hour,protocol", "--rotate-flows", "500"); r.code != 0 {
		t.Fatalf("partitioned run: %d %s", r.code, r.stderr)
	}
	names := schemaNames(readParquet(t, flat))
	cols := `"` + strings.Join(names, `","`) + `"`
	tree := fmt.Sprintf("read_parquet('%s**/*.parquet', hive_partitioning=true, filename=true)", out)
	// The partition columns and their types, as DuckDB infers them.
	parts := query(fmt.Sprintf("SELECT DISTINCT date::VARCHAR, hour, protocol, typeof(date), typeof(hour), typeof(protocol) FROM %s ORDER BY ALL", tree))
	if len(parts) < 6 {
		t.Fatalf("%d partitions, want hours x protocols: %v", len(parts), parts)
	}
	if fmt.Sprint(parts[0][3:]) != "[DATE BIGINT BIGINT]" {
		t.Errorf("partition column types %v, want DATE, BIGINT, BIGINT", parts[0][3:])
	}
	total := query(fmt.Sprintf("SELECT count(*) FROM %s", tree))
	flatTotal := query(fmt.Sprintf("SELECT count(*) FROM '%s'", flat))
	if fmt.Sprint(total) != fmt.Sprint(flatTotal) {
		t.Errorf("%v rows in the tree, %v in the flat file", total, flatTotal)
	}
	for _, p := range parts {
		date, hour, proto := p[0].(string), p[1].(string), p[2].(string)
		day, err := time.Parse("2006-01-02", date)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := strconv.Atoi(hour)
		from := day.Add(time.Duration(h) * time.Hour).UnixMilli()
		filter := fmt.Sprintf("date = DATE '%s' AND hour = %s AND protocol = %s", date, hour, proto)
		same := fmt.Sprintf("bidirectional_first_seen_ms >= %d AND bidirectional_first_seen_ms < %d AND protocol = %s", from, from+3600_000, proto)
		// Rows as multisets, both ways, and their numbers.
		q := fmt.Sprintf(`SELECT
			(SELECT count(*) FROM (SELECT %[1]s FROM %[2]s WHERE %[3]s EXCEPT ALL SELECT %[1]s FROM '%[4]s' WHERE %[5]s)),
			(SELECT count(*) FROM (SELECT %[1]s FROM '%[4]s' WHERE %[5]s EXCEPT ALL SELECT %[1]s FROM %[2]s WHERE %[3]s)),
			(SELECT count(*) FROM %[2]s WHERE %[3]s),
			(SELECT count(*) FROM '%[4]s' WHERE %[5]s),
			(SELECT count(DISTINCT filename) FROM %[2]s WHERE %[3]s)`, cols, tree, filter, flat, same)
		r := query(q)[0]
		if r[0] != "0" || r[1] != "0" || r[2] != r[3] || r[2] == "0" {
			t.Errorf("%s: %v rows only in the partition, %v only in the flat output, %v against %v", filter, r[0], r[1], r[2], r[3])
		}
		files, _ := filepath.Glob(filepath.Join(out, "date="+date, "hour="+hour, "protocol="+proto, "*.parquet"))
		if fmt.Sprint(r[4]) != strconv.Itoa(len(files)) {
			t.Errorf("%s: rows from %v files, the partition has %d", filter, r[4], len(files))
		}
	}
}

// TestPartitionedAddsParts: a second run into the same tree adds part
// files with new numbers, never overwriting one; a run into a tree of
// another layout is refused.
func TestPartitionedAddsParts(t *testing.T) {
	capture := writeFile(t, "c.pcap", udpCapture(t, 20))
	out := t.TempDir() + "/"
	for k := 0; k < 2; k++ {
		if r := runNFStream(t, nil, "-q", "-r", capture, "-o", out, "--partition-by", "date,hour"); r.code != 0 {
			t.Fatalf("run %d: %d %s", k, r.code, r.stderr)
		}
	}
	files := partFiles(t, out)
	var bases []string
	for _, f := range files {
		bases = append(bases, filepath.Base(f))
		if n := len(parquetIDs(t, f)); n != 20 {
			t.Errorf("%s: %d flows, want 20", f, n)
		}
	}
	if !slices.Equal(bases, []string{"part-000000.parquet", "part-000001.parquet"}) {
		t.Errorf("files %v, want part-000000 and part-000001", files)
	}
	r := runNFStream(t, nil, "-r", capture, "-o", out, "--partition-by", "hour")
	if r.code != 2 || !strings.Contains(r.stderr, "holds partitions by date") {
		t.Errorf("another layout into the tree: %d %q", r.code, r.stderr)
	}
}

// TestPartitionUsageErrors: bad combinations are usage errors before any
// input is read or any folder made.
func TestPartitionUsageErrors(t *testing.T) {
	capture := writeFile(t, "c.pcap", udpCapture(t, 3))
	dir := t.TempDir()
	file := writeFile(t, "x.parquet", []byte("x"))
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-o", "-", "--partition-by", "date"}, "give it with -o DIR/"},
		{[]string{"-o", filepath.Join(dir, "new"), "--partition-by", "date"}, "trailing slash"},
		{[]string{"-o", file, "--partition-by", "date"}, "not a folder"},
		{[]string{"-o", dir + "/t/", "--partition-by", "week"}, `unknown partition key "week"`},
		{[]string{"-o", dir + "/t/", "--partition-by", "date,date"}, "given twice"},
		{[]string{"-o", dir + "/t/", "--partition-by", "date", "--format", "csv"}, "Parquet only"},
		{[]string{"-o", dir + "/t/", "--partition-by", "application", "--n-dissections", "0"}, "no application_name column"},
		{[]string{"-o", dir + "/t/", "--partition-by", "date", "--max-open-partitions", "0"}, "at least 1"},
		{[]string{"-o", dir + "/f.parquet", "--max-open-partitions", "4"}, "applies to --partition-by only"},
		{[]string{"-o", dir + "/f.csv", "--shard", "4/4"}, "--shard \"4/4\""},
		{[]string{"-o", dir + "/f.csv", "--shard", "1"}, "--shard \"1\""},
		{[]string{"-o", dir + "/f.csv", "--shard", "-1/2"}, "--shard \"-1/2\""},
	} {
		r := runNFStream(t, nil, append([]string{"-r", capture}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.msg)
		}
	}
	if r := runNFStream(t, nil, "-i", "lo", "--shard", "0/2", "-o", dir+"/f.csv"); r.code != 2 || !strings.Contains(r.stderr, "--shard applies to files") {
		t.Errorf("--shard with -i: exit %d, stderr %q", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("usage errors left %v", entries)
	}
}

// TestPartitionedInterrupted: while a partitioned run rotates its parts,
// every part file under its final name is complete (Arrow reads it to
// the end); SIGINT ends the run with every flow read written, in complete
// files only, no temporary file left, and ids 0..n-1 once each.
func TestPartitionedInterrupted(t *testing.T) {
	out := t.TempDir() + "/"
	s := startStream(t, "--idle-timeout", "1", "-o", out, "--partition-by", "date,hour", "--rotate", "1s", "--max-open-partitions", "1")
	checked := 0
	waitFor(t, "several part files", func() bool {
		files := listParts(t, out, false)
		for _, f := range files {
			parquetIDs(t, f) // fails the test on an incomplete file
			checked++
		}
		return len(files) >= 3
	})
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	fed := s.stopFeeding()
	err := s.cmd.Wait()
	if code := exitStatus(err); code != 130 {
		t.Fatalf("exit %d after SIGINT, want 130: %s", code, s.stderr.String())
	}
	var ids []uint64
	for _, f := range partFiles(t, out) {
		ids = append(ids, parquetIDs(t, f)...)
	}
	slices.Sort(ids)
	if len(ids) == 0 || len(ids) > fed {
		t.Fatalf("%d flows written, %d packets fed", len(ids), fed)
	}
	for i, id := range ids {
		if id != uint64(i) {
			t.Fatalf("ids lost or repeated: %d at %d", id, i)
		}
	}
	t.Logf("%d part files checked while written; %d flows", checked, len(ids))
}

// shardRows runs nfstream to CSV with args and returns its rows without
// the id column, and the ids.
func shardRows(t *testing.T, args ...string) (rows []string, ids []uint64) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "f.csv")
	if r := runNFStream(t, nil, append([]string{"-q", "-o", out}, args...)...); r.code != 0 {
		t.Fatalf("%v: %d %s", args, r.code, r.stderr)
	}
	header, recs := csvTable(t, out)
	if header[0] != "id" {
		t.Fatalf("header %v", header)
	}
	for _, r := range recs {
		id, err := strconv.ParseUint(r[0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		rows = append(rows, strings.Join(r[1:], "\x1f"))
	}
	return rows, ids
}

// TestShardUnion: for corpus captures and a generated one spanning hours,
// the four shards of --shard i/4 hold disjoint sets of flows whose union
// is the unsharded output (every column but id, as multisets); ids are
// unique across shards (id mod 4 is the shard); a shard run with two
// meters writes what it writes with one.
func TestShardUnion(t *testing.T) {
	captures := []string{multiHourCapture(t)}
	if dir := corpusDirOrEmpty(t); dir != "" {
		for _, name := range []string{"1kxun.pcap", "4in6tunnel.pcap", "gtp.pcap", "dns_doh.pcap", "google_ssl.pcap", "instagram.pcap", "quic.pcap", "steam.pcap"} {
			if p := filepath.Join(dir, "pcaps", name); exists(p) {
				captures = append(captures, p)
			}
		}
	}
	const n = 4
	for _, c := range captures {
		base := []string{"-r", c, "--stats", "--splt", "5"}
		want, _ := shardRows(t, base...)
		var got []string
		var allIDs []uint64
		for i := 0; i < n; i++ {
			rows, ids := shardRows(t, append(base, "--shard", fmt.Sprintf("%d/%d", i, n))...)
			for _, id := range ids {
				if id%n != uint64(i) {
					t.Errorf("%s shard %d: id %d", filepath.Base(c), i, id)
				}
			}
			if i == 1 {
				rows2, ids2 := shardRows(t, append(base, "--shard", "1/4", "--meters", "2")...)
				if !slices.Equal(rows2, rows) || !slices.Equal(ids2, ids) {
					t.Errorf("%s shard 1/4: two meters wrote other rows than one", filepath.Base(c))
				}
			}
			got = append(got, rows...)
			allIDs = append(allIDs, ids...)
		}
		slices.Sort(allIDs)
		if len(slices.Compact(allIDs)) != len(got) {
			t.Errorf("%s: ids repeated across shards", filepath.Base(c))
		}
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			onlyGot, onlyWant := diffSorted(got, want)
			t.Errorf("%s: the shards' union has %d rows, the unsharded output %d; %d only in shards (first %q), %d only unsharded (first %q)",
				filepath.Base(c), len(got), len(want), len(onlyGot), first(onlyGot), len(onlyWant), first(onlyWant))
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// diffSorted returns the elements of sorted a not in sorted b and the
// reverse, as multisets.
func diffSorted(a, b []string) (onlyA, onlyB []string) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			onlyA = append(onlyA, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			onlyB = append(onlyB, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return onlyA, onlyB
}

// corpusDirOrEmpty returns the corpus folder, or "" (with a log line)
// when it is absent, so a test can go on with generated captures.
func corpusDirOrEmpty(t *testing.T) (dir string) {
	t.Helper()
	ok := t.Run("corpus", func(t *testing.T) { dir = corpus.Dir(t) })
	if !ok || dir == "" {
		t.Log("NFStream corpus absent: generated captures only")
		return ""
	}
	return dir
}

// quietFlowCapture writes, with gopacket's pcap writer, flow A (one UDP
// packet at 0 s) and flow B (source port bPort, a packet every 10 s for
// 300 s).
func quietFlowCapture(t *testing.T, bPort int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	put := func(at time.Duration, src byte, sport int) {
		eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{10, 0, 0, src}, DstIP: []byte{10, 0, 9, 9}}
		udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: 53}
		udp.SetNetworkLayerForChecksum(ip)
		sb := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, udp, gopacket.Payload([]byte("hello"))); err != nil {
			t.Fatal(err)
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0).Add(at), CaptureLength: len(sb.Bytes()), Length: len(sb.Bytes())}
		if err := w.WritePacket(ci, sb.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	put(0, 1, 1000)
	for s := 0; s <= 300; s += 10 {
		put(time.Duration(s)*time.Second, 2, bPort)
	}
	return buf.Bytes()
}

// TestShardKeepsTheClock: the packets of other shards still move a
// shard's clock, so a quiet flow expires by the idle scan when the
// unsharded run expires it, not at the end of the capture for want of
// packets of its own shard: with --rotate, each shard's file of an
// interval holds its share of the unsharded run's file of that interval.
func TestShardKeepsTheClock(t *testing.T) {
	// rotated returns the rows (without id) of each file of a rotated run.
	rotated := func(capture string, args ...string) map[string][]string {
		dir := t.TempDir()
		args = append([]string{"-q", "-r", capture, "--rotate", "1m", "-o", filepath.Join(dir, "f-%H%M.csv")}, args...)
		if r := runNFStream(t, nil, args...); r.code != 0 {
			t.Fatalf("%v: %d %s", args, r.code, r.stderr)
		}
		files := map[string][]string{}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			_, recs := csvTable(t, filepath.Join(dir, e.Name()))
			for _, r := range recs {
				files[e.Name()] = append(files[e.Name()], strings.Join(r[1:], "\x1f"))
			}
		}
		return files
	}
	for port := 2000; port < 2032; port++ {
		capture := writeFile(t, "q.pcap", quietFlowCapture(t, port))
		want := rotated(capture)
		a := rotated(capture, "--shard", "0/2")
		b := rotated(capture, "--shard", "1/2")
		if len(a) != 1 || len(b) != 1 {
			continue // both flows in one shard: try another port
		}
		if len(want) != 2 {
			t.Fatalf("unsharded: files %v, want the quiet flow's and the busy one's", want)
		}
		for _, meters := range []string{"1", "2"} {
			got := map[string][]string{}
			for i := range 2 {
				for name, rows := range rotated(capture, "--shard", fmt.Sprintf("%d/2", i), "--meters", meters) {
					got[name] = append(got[name], rows...)
				}
			}
			for name, rows := range want {
				g := got[name]
				sort.Strings(g)
				sort.Strings(rows)
				if !slices.Equal(g, rows) {
					t.Errorf("--meters %s, file %s: shards wrote %q, unsharded %q", meters, name, g, rows)
				}
			}
			if len(got) != len(want) {
				t.Errorf("--meters %s: shards wrote files %v, unsharded %v", meters, got, want)
			}
		}
		return
	}
	t.Fatal("no port put the two flows in different shards")
}

// TestShardsShareATree: four shards partitioned into one folder name
// their parts apart and together hold every flow of the unsharded run,
// each id once.
func TestShardsShareATree(t *testing.T) {
	capture := multiHourCapture(t)
	want, _ := shardRows(t, "-r", capture)
	out := t.TempDir() + "/"
	for i := range 4 {
		if r := runNFStream(t, nil, "-q", "-r", capture, "-o", out, "--partition-by", "date,hour", "--shard", fmt.Sprintf("%d/4", i)); r.code != 0 {
			t.Fatalf("shard %d: %d %s", i, r.code, r.stderr)
		}
	}
	var ids []uint64
	for _, f := range partFiles(t, out) {
		i := strings.Index(filepath.Base(f), "of4-")
		if !strings.HasPrefix(filepath.Base(f), "part-") || i < 0 {
			t.Fatalf("part %s not named by its shard", f)
		}
		shard, _ := strconv.Atoi(filepath.Base(f)[len("part-"):i])
		for _, id := range parquetIDs(t, f) {
			if id%4 != uint64(shard) {
				t.Errorf("%s: id %d", f, id)
			}
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if len(ids) != len(want) || len(slices.Compact(ids)) != len(want) {
		t.Errorf("%d flows in the tree (distinct ids among them may be fewer), want %d", len(ids), len(want))
	}
}

// TestPartitionedSIGHUP: SIGHUP closes the open parts of a partitioned
// output (each complete at once) and the run goes on into new parts; no
// flow is lost.
func TestPartitionedSIGHUP(t *testing.T) {
	out := t.TempDir() + "/"
	s := startStream(t, "--idle-timeout", "1", "-o", out, "--partition-by", "date,hour")
	for k := 1; k <= 2; k++ {
		waitFor(t, "flows written", func() bool { _, h := finalFilesTree(t, out); return h > 0 })
		time.Sleep(100 * time.Millisecond)
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a part closed by SIGHUP", func() bool { return len(listParts(t, out, false)) >= k })
		for _, f := range listParts(t, out, false) {
			parquetIDs(t, f)
		}
	}
	fed := s.stopFeeding()
	s.stdin.Close()
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, s.stderr.String())
	}
	if strings.Contains(s.stderr.String(), hangupNote) {
		t.Errorf("stderr %q: SIGHUP said to be ignored", s.stderr.String())
	}
	files := partFiles(t, out)
	if len(files) < 3 {
		t.Errorf("%d parts after two SIGHUPs, want 3 or more", len(files))
	}
	var ids []uint64
	for _, f := range files {
		ids = append(ids, parquetIDs(t, f)...)
	}
	slices.Sort(ids)
	if len(ids) != fed {
		t.Fatalf("%d flows written, %d fed", len(ids), fed)
	}
	for i, id := range ids {
		if id != uint64(i) {
			t.Fatalf("ids lost or repeated: %d at %d", id, i)
		}
	}
}

// finalFilesTree counts the part files and the hidden temporary files
// under dir.
func finalFilesTree(t *testing.T, dir string) (final, hidden int) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") {
				hidden++
			} else {
				final++
			}
		}
		return nil
	})
	return final, hidden
}

// nodeModule returns node and the folder of an npm package installed in
// ~/.cache/nfstream-test/<cache> (scripts/deps.sh installs it; here too
// when missing, pinned as there), or skips the test with the reason.
func nodeModule(t *testing.T, cache, module string, install ...string) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("%s: node is not installed (scripts/deps.sh installs nodejs)", module)
	}
	home, _ := os.UserHomeDir()
	root := filepath.Join(home, ".cache", "nfstream-test", cache)
	dir = filepath.Join(root, "node_modules", module)
	have := true
	for _, pkg := range install {
		name, _, _ := strings.Cut(strings.TrimPrefix(pkg, "@"), "@")
		if strings.HasPrefix(pkg, "@") {
			name = "@" + name
		}
		if _, err := os.Stat(filepath.Join(root, "node_modules", name)); err != nil {
			have = false
		}
	}
	if have {
		return node, dir
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skipf("%s is not installed and npm is missing (scripts/deps.sh installs them)", module)
	}
	os.MkdirAll(root, 0o777)
	cmd := exec.Command(npm, append([]string{"install", "--no-audit", "--no-fund", "-E", "--prefix", root}, install...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("npm install %v failed: %v: %s", install, err, out)
	}
	return node, dir
}

// TestPartitionedPolars: polars (its Node.js binding) reads the
// partitioned tree of a capture spanning several hours as one
// Hive-partitioned dataset: the date, hour and protocol it reads from the
// paths group the flows exactly as the flat output's first-seen hour and
// protocol do (Apache Arrow's reader), and a filter on the partition
// columns returns the same flows.
func TestPartitionedPolars(t *testing.T) {
	node, module := nodeModule(t, "polars", "nodejs-polars", "nodejs-polars@0.25.2", "nodejs-polars-linux-x64-gnu@0.25.2")
	capture := multiHourCapture(t)
	dir := t.TempDir()
	flat := filepath.Join(dir, "flat.parquet")
	out := filepath.Join(dir, "tree") + "/"
	if r := runNFStream(t, nil, "-q", "-r", capture, "-o", flat); r.code != 0 {
		t.Fatalf("flat run: %d %s", r.code, r.stderr)
	}
	if r := runNFStream(t, nil, "-q", "-r", capture, "-o", out, "--partition-by", "date,hour,protocol"); r.code != 0 {
		t.Fatalf("partitioned run: %d %s", r.code, r.stderr)
	}
	// The flat output's ids by first-seen UTC date and hour, and protocol.
	tbl := readParquet(t, flat)
	want := map[string][]int64{}
	for _, row := range tableRows(t, tbl, []string{"id", "bidirectional_first_seen_ms", "protocol"}, nil) {
		f := strings.Split(row, "\x1f")
		id, _ := strconv.ParseInt(f[0], 10, 64)
		ms, _ := strconv.ParseInt(f[1], 10, 64)
		tm := time.UnixMilli(ms).UTC()
		key := fmt.Sprintf("%s/%d/%s", tm.Format("2006-01-02"), tm.Hour(), f[2])
		want[key] = append(want[key], id)
	}
	script := filepath.Join(dir, "polars.js")
	js := `const pl = require(process.argv[2]);
(async () => {
  const scan = () => pl.scanParquet(process.argv[3], {hivePartitioning: true});
  const groups = await scan().groupBy(['date', 'hour', 'protocol']).agg(pl.col('id').sort().alias('ids'))
    .withColumns(pl.col('date').cast(pl.Utf8)).collect();
  const out = {};
  for (const g of groups.toRecords()) {
    const f = await scan().filter(pl.col('date').cast(pl.Utf8).eq(pl.lit(g.date))
      .and(pl.col('hour').eq(g.hour)).and(pl.col('protocol').eq(g.protocol))).select('id').sort('id').collect();
    out[g.date + '/' + g.hour + '/' + g.protocol] = {group: g.ids, filter: f.getColumn('id').toArray()};
  }
  console.log(JSON.stringify(out));
})().catch(e => { console.error(String(e)); process.exit(1); });
`
	if err := os.WriteFile(script, []byte(js), 0o666); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(node, script, module, out+"**/*.parquet")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("polars: %v: %s", err, stderr.String())
	}
	var got map[string]struct{ Group, Filter []int64 }
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("polars output %q: %v", stdout.String(), err)
	}
	if len(got) != len(want) || len(want) < 6 {
		t.Errorf("polars sees %d partitions, the flat output has %d (hours x protocols)", len(got), len(want))
	}
	for key, ids := range want {
		slices.Sort(ids)
		if g := got[key]; !slices.Equal(g.Group, ids) || !slices.Equal(g.Filter, ids) {
			t.Errorf("partition %s: polars groups %d flows and filters %d; the flat output has %d", key, len(g.Group), len(g.Filter), len(ids))
		}
	}
}

// TestPartitionedStaleTemps: the temporary part files a killed run left
// anywhere in the tree are removed at the next run into it (and said);
// one of a running process is kept.
func TestPartitionedStaleTemps(t *testing.T) {
	capture := writeFile(t, "c.pcap", udpCapture(t, 3))
	out := t.TempDir()
	deep := filepath.Join(out, "date=2023-11-14", "hour=22")
	if err := os.MkdirAll(deep, 0o777); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(deep, ".part-000007.parquet.tmp-"+strconv.Itoa(deadPID)+"-3")
	running := filepath.Join(deep, ".part-000008.parquet.tmp-"+strconv.Itoa(os.Getpid())+"-3")
	for _, p := range []string{stale, running} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runNFStream(t, nil, "-r", capture, "-o", out, "--partition-by", "date,hour")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if exists(stale) || !exists(running) || !strings.Contains(r.stderr, stale) {
		t.Errorf("stale removed: %v, running kept: %v, stderr %q", !exists(stale), exists(running), r.stderr)
	}
}
