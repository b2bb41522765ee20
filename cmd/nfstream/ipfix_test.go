package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/testing/corpus"
	"github.com/nfstream-go/nfstream/internal/testing/ipfixread"
)

// ipfixCaptures are corpus captures with IPv4 and IPv6, TCP and UDP
// flows, one- and two-way, tunnels.
var ipfixCaptures = []string{"android.pcap", "skype.pcap", "http_ipv6.pcap", "6in6tunnel.pcap", "quic.pcap"}

func ipfixInputs(t *testing.T) []string {
	dir := corpus.Dir(t)
	var args []string
	for _, c := range ipfixCaptures {
		args = append(args, "-r", filepath.Join(dir, "pcaps", c))
	}
	return args
}

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago
// (freeAddr, in metrics_test.go, is its TCP counterpart).
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// readCSVRows reads our CSV (with csvTable): its header and one map per
// row.
func readCSVRows(t *testing.T, path string) ([]string, []map[string]string) {
	t.Helper()
	header, recs := csvTable(t, path)
	var rows []map[string]string
	for _, r := range recs {
		m := map[string]string{}
		for i, name := range header {
			m[name] = r[i]
		}
		rows = append(rows, m)
	}
	return header, rows
}

func canonIP(t *testing.T, s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatalf("address %q: %v", s, err)
	}
	return a.Unmap().String()
}

// flowKeys are the compared fields of our CSV's flows, one line each,
// sorted; reverse adds the dst2src counters.
func flowKeys(t *testing.T, rows []map[string]string, reverse bool) []string {
	var out []string
	for _, r := range rows {
		k := fmt.Sprintf("%s %s > %s %s proto %s %s-%s fwd %s/%s", canonIP(t, r["src_ip"]), r["src_port"], canonIP(t, r["dst_ip"]), r["dst_port"], r["protocol"],
			r["bidirectional_first_seen_ms"], r["bidirectional_last_seen_ms"], r["src2dst_packets"], r["src2dst_bytes"])
		if reverse {
			k += fmt.Sprintf(" rev %s/%s", r["dst2src_packets"], r["dst2src_bytes"])
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func compareKeys(t *testing.T, who string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d flows, our CSV has %d", who, len(got), len(want))
	}
	bad := 0
	for i := 0; i < min(len(got), len(want)); i++ {
		if got[i] != want[i] {
			if bad++; bad <= 5 {
				t.Errorf("%s: flow %d\n got  %s\n want %s", who, i, got[i], want[i])
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d flows differ", who, bad)
	}
}

// startDaemon starts a collector and stops it (SIGTERM) at the end of the
// test.
func startDaemon(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if p := "/usr/sbin/" + name; exists(p) {
			path = p
		} else {
			t.Skipf("%s not installed (Debian package %s; scripts/deps.sh installs it)", name, map[string]string{"nfcapd": "nfdump", "nfacctd": "pmacct"}[name])
		}
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	log := filepath.Join(t.TempDir(), name+".log")
	lf, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	// Its own process group: pmacct's plugins are child processes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopDaemon(cmd)
		lf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("%s log:\n%s", name, b)
		}
	})
	return cmd
}

// TestIPFIXToNfcapd exports corpus captures to nfdump's nfcapd over UDP
// and reads them back with nfdump: every flow has our CSV's addresses,
// ports, protocol, start and end (ms), and packets and bytes in both
// directions (nfdump keeps RFC 5103's reverse counters as out_packets and
// out_bytes).
func TestIPFIXToNfcapd(t *testing.T) {
	inputs := ipfixInputs(t)
	dir := t.TempDir()
	port := freeUDPPort(t)
	os.MkdirAll(filepath.Join(dir, "flows"), 0o755)
	nfcapd := startDaemon(t, "nfcapd", "-w", filepath.Join(dir, "flows"), "-b", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "3600", "-B", "4194304")
	time.Sleep(500 * time.Millisecond) // nfcapd binds its socket
	out := filepath.Join(dir, "flows.csv")
	r := runNFStream(t, nil, append(inputs, "-o", out, "--ipfix", fmt.Sprintf("udp://127.0.0.1:%d", port))...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "IPFIX udp://") {
		t.Errorf("the summary does not name the collector: %q", r.stderr)
	}
	time.Sleep(500 * time.Millisecond)
	stopDaemon(nfcapd) // writes its file
	cmd := exec.Command("nfdump", "-R", filepath.Join(dir, "flows"), "-o", "json", "-q")
	cmd.Env = append(os.Environ(), "TZ=UTC")
	js, err := cmd.Output()
	if err != nil {
		t.Fatalf("nfdump: %v", err)
	}
	// With -q, nfdump 1.7 writes the objects without the brackets.
	if t := strings.TrimSpace(string(js)); !strings.HasPrefix(t, "[") {
		js = []byte("[" + t + "]")
	}
	var recs []map[string]any
	if err := json.Unmarshal(js, &recs); err != nil {
		t.Fatalf("nfdump -o json: %v\n%.500s", err, js)
	}
	ms := func(s any) string {
		tm, err := time.ParseInLocation("2006-01-02T15:04:05.000", s.(string), time.UTC)
		if err != nil {
			t.Fatalf("nfdump time %v: %v", s, err)
		}
		return strconv.FormatInt(tm.UnixMilli(), 10)
	}
	num := func(v any) string {
		if v == nil { // ICMP flows have no ports in nfdump's JSON
			return "0"
		}
		return strconv.FormatUint(uint64(v.(float64)), 10)
	}
	var got []string
	for _, rec := range recs {
		sa, da := rec["src4_addr"], rec["dst4_addr"]
		if sa == nil {
			sa, da = rec["src6_addr"], rec["dst6_addr"]
		}
		got = append(got, fmt.Sprintf("%s %s > %s %s proto %s %s-%s fwd %s/%s rev %s/%s", canonIP(t, sa.(string)), num(rec["src_port"]), canonIP(t, da.(string)), num(rec["dst_port"]),
			num(rec["proto"]), ms(rec["first"]), ms(rec["last"]), num(rec["in_packets"]), num(rec["in_bytes"]), num(rec["out_packets"]), num(rec["out_bytes"])))
	}
	slices.Sort(got)
	_, rows := readCSVRows(t, out)
	compareKeys(t, "nfdump", got, flowKeys(t, rows, true))
}

// TestIPFIXToNfacctd exports the same captures to pmacct's nfacctd (print
// plugin, JSON): every flow has our CSV's addresses, ports, protocol,
// start and end, and forward packets and bytes. pmacct keeps no reverse
// counters of a biflow (docs/ipfix.md "Collectors").
func TestIPFIXToNfacctd(t *testing.T) {
	inputs := ipfixInputs(t)
	dir := t.TempDir()
	port := freeUDPPort(t)
	conf := filepath.Join(dir, "nfacctd.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`daemonize: false
nfacctd_ip: 127.0.0.1
nfacctd_port: %d
plugins: print
print_output: json
print_output_file: %s/out-%%s.json
print_refresh_time: 1
print_history: 1m
aggregate: src_host, dst_host, src_port, dst_port, proto, timestamp_start, timestamp_end
timestamps_since_epoch: true
timestamps_secs: false
`, port, dir)), 0o644)
	startDaemon(t, "nfacctd", "-f", conf)
	time.Sleep(time.Second)
	out := filepath.Join(dir, "flows.csv")
	r := runNFStream(t, nil, append(inputs, "-o", out, "--ipfix", fmt.Sprintf("udp://127.0.0.1:%d", port))...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	_, rows := readCSVRows(t, out)
	want := flowKeys(t, rows, false)
	ms := func(s any) string {
		f, err := strconv.ParseFloat(s.(string), 64)
		if err != nil {
			t.Fatalf("pmacct time %v", s)
		}
		return strconv.FormatInt(int64(math.Round(f*1000)), 10)
	}
	num := func(v any) string {
		if s, ok := v.(string); ok {
			// pmacct names the protocols it knows.
			if p, ok := map[string]string{"tcp": "6", "udp": "17", "icmp": "1", "ipv6-icmp": "58", "igmp": "2", "gre": "47", "sctp": "132"}[s]; ok {
				return p
			}
			return s
		}
		return strconv.FormatUint(uint64(v.(float64)), 10)
	}
	var got []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		got = got[:0]
		files, _ := filepath.Glob(filepath.Join(dir, "out-*.json"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			sc := bufio.NewScanner(strings.NewReader(string(b)))
			for sc.Scan() {
				var rec map[string]any
				if json.Unmarshal(sc.Bytes(), &rec) != nil || rec["ip_src"] == nil {
					continue
				}
				got = append(got, fmt.Sprintf("%s %s > %s %s proto %s %s-%s fwd %s/%s", canonIP(t, rec["ip_src"].(string)), num(rec["port_src"]), canonIP(t, rec["ip_dst"].(string)), num(rec["port_dst"]),
					num(rec["ip_proto"]), ms(rec["timestamp_start"]), ms(rec["timestamp_end"]), num(rec["packets"]), num(rec["bytes"])))
			}
		}
		if len(got) >= len(want) {
			break
		}
	}
	slices.Sort(got)
	compareKeys(t, "pmacct", got, want)
}

// collected is what a test-side collector decoded.
type collected struct {
	mu       sync.Mutex
	msgs     []*ipfixread.Message
	sizes    []int
	types    map[ipfixread.Element]ipfixread.TypeInfo
	errs     []error
	received time.Time
}

func (c *collected) add(d *ipfixread.Decoder, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.types == nil {
		c.types = map[ipfixread.Element]ipfixread.TypeInfo{}
	}
	m, err := d.Decode(b)
	if err != nil {
		c.errs = append(c.errs, err)
		return
	}
	c.msgs = append(c.msgs, m)
	c.sizes = append(c.sizes, len(b))
	c.received = time.Now()
	for i := range m.Records {
		if ti, ok := ipfixread.TypeRecord(&m.Records[i]); ok {
			c.types[ti.Element] = ti
		}
	}
}

// dataRecords returns the flow records (not RFC 5610 ones).
func (c *collected) dataRecords() []ipfixread.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []ipfixread.Record
	for _, m := range c.msgs {
		for _, r := range m.Records {
			if !r.Options {
				out = append(out, r)
			}
		}
	}
	return out
}

// listenUDP collects the messages sent to a UDP port until the test ends.
func listenUDP(t *testing.T) (*collected, string) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadBuffer(8 << 20)
	c := &collected{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d := ipfixread.NewDecoder()
		buf := make([]byte, 65536)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			c.add(d, append([]byte(nil), buf[:n]...))
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return c, "udp://" + conn.LocalAddr().String()
}

// ianaColumns are the columns carried by IANA elements, from the IANA
// registry and RFC 5103 (reverse: enterprise 29305), written here apart
// from the exporter's own table.
var ianaColumns = map[ipfixread.Element]string{
	{ID: 148}: "id", {ID: 8}: "src_ip", {ID: 27}: "src_ip", {ID: 12}: "dst_ip", {ID: 28}: "dst_ip",
	{ID: 56}: "src_mac", {ID: 80}: "dst_mac", {ID: 7}: "src_port", {ID: 11}: "dst_port",
	{ID: 4}: "protocol", {ID: 60}: "ip_version", {ID: 58}: "vlan_id",
	{ID: 152}: "bidirectional_first_seen_ms", {ID: 153}: "bidirectional_last_seen_ms",
	{ID: 2}: "src2dst_packets", {ID: 1}: "src2dst_bytes",
	{ID: 2, PEN: 29305}: "dst2src_packets", {ID: 1, PEN: 29305}: "dst2src_bytes",
}

// cellOf renders a decoded value as the CSV cell it must equal: column
// name, text, and whether it is a float (compared by value).
func cellOf(t *testing.T, types map[ipfixread.Element]ipfixread.TypeInfo, v ipfixread.Value) (name, text string, ok bool) {
	if name, ok := ianaColumns[v.Element]; ok {
		switch name {
		case "src_ip", "dst_ip":
			a, _ := netip.AddrFromSlice(v.Bytes)
			return name, a.String(), true
		case "src_mac", "dst_mac":
			return name, net.HardwareAddr(v.Bytes).String(), true
		}
		x, err := ipfixread.Uint(v.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return name, strconv.FormatUint(x, 10), true
	}
	if v.Element == (ipfixread.Element{ID: 291}) { // basicList
		l, err := ipfixread.ParseBasicList(v.Bytes)
		if err != nil {
			t.Fatalf("basicList: %v", err)
		}
		ti, ok := types[l.Item]
		if !ok {
			t.Fatalf("basicList of element %v: no RFC 5610 record names it", l.Item)
		}
		var items []string
		for _, it := range l.Items {
			x, err := ipfixread.Int(it)
			if err != nil {
				t.Fatal(err)
			}
			items = append(items, strconv.FormatInt(x, 10))
		}
		return ti.Name, "[" + strings.Join(items, ", ") + "]", true
	}
	ti, ok := types[v.Element]
	if !ok {
		return "", "", false
	}
	switch ti.DataType {
	case 1, 2, 3, 4:
		x, err := ipfixread.Uint(v.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return ti.Name, strconv.FormatUint(x, 10), true
	case 5, 6, 7, 8:
		x, err := ipfixread.Int(v.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return ti.Name, strconv.FormatInt(x, 10), true
	case 10:
		f, err := ipfixread.Float(v.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return ti.Name, strconv.FormatUint(math.Float64bits(f), 16), true
	case 13:
		return ti.Name, string(v.Bytes), true
	case 0: // octetArray: the OUIs
		var parts []string
		for _, c := range v.Bytes {
			parts = append(parts, hex.EncodeToString([]byte{c}))
		}
		return ti.Name, strings.Join(parts, ":"), true
	}
	t.Fatalf("element %v: data type %d not expected", v.Element, ti.DataType)
	return "", "", false
}

// TestIPFIXEveryColumn exports captures with every column group and two
// plugins (lists and strings as udps values) to a UDP listener of the
// test, decodes the messages with ipfixread (written from RFC 7011, 6313
// and 5610) and finds every column of every row of our CSV of the same
// run in the IPFIX records, equal; it also checks the messages: under the
// MTU, templates before data, sequence numbers counting data records.
func TestIPFIXEveryColumn(t *testing.T) {
	inputs := ipfixInputs(t)
	col, url := listenUDP(t)
	out := filepath.Join(t.TempDir(), "flows.csv")
	start := time.Now()
	r := runNFStream(t, nil, append(inputs, "-o", out, "--stats", "--splt", "12", "--plugin", "splt", "--plugin", "ja4", "--ipfix", url, "--ipfix-mtu", "1200")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	header, rows := readCSVRows(t, out)
	var recs []ipfixread.Record
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if recs = col.dataRecords(); len(recs) >= len(rows) {
			break
		}
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, err := range col.errs {
		t.Errorf("decoding: %v", err)
	}
	if len(recs) != len(rows) {
		t.Fatalf("%d IPFIX records, %d CSV rows", len(recs), len(rows))
	}
	// Messages: size, templates first, sequence numbers.
	var seq uint32
	for i, m := range col.msgs {
		if col.sizes[i] > 1200 {
			t.Errorf("message %d: %d bytes > --ipfix-mtu 1200", i, col.sizes[i])
		}
		if m.Unknown > 0 {
			t.Errorf("message %d: a data set before its template", i)
		}
		if m.Sequence != seq {
			t.Errorf("message %d: sequence %d, want %d (data records sent before it)", i, m.Sequence, seq)
		}
		seq += uint32(len(m.Records))
		if et := int64(m.ExportTime); et < start.Unix() || et > time.Now().Unix() {
			t.Errorf("message %d: export time %d outside the run", i, et)
		}
		if m.Domain != 0 {
			t.Errorf("message %d: observation domain %d, want 0", i, m.Domain)
		}
	}
	// Records in the order of the CSV rows (ids from 0).
	floats := map[string]bool{}
	for _, h := range header {
		if strings.Contains(h, "mean") || strings.Contains(h, "stddev") {
			floats[h] = true
		}
	}
	for i, rec := range recs {
		cells := map[string]string{}
		for _, v := range rec.Values {
			if v.Element == (ipfixread.Element{ID: 136}) { // flowEndReason
				cells["flowEndReason"] = strconv.Itoa(int(v.Bytes[0]))
				continue
			}
			name, text, ok := cellOf(t, col.types, v)
			if !ok {
				t.Fatalf("record %d: element %v not described by any RFC 5610 record", i, v.Element)
			}
			cells[name] = text
		}
		row := rows[i]
		if cells["id"] != row["id"] {
			t.Fatalf("record %d carries id %s, want %s", i, cells["id"], row["id"])
		}
		for _, h := range header {
			got, ok := cells[h]
			if !ok {
				t.Errorf("flow %s: column %s not in the IPFIX record", row["id"], h)
				continue
			}
			want := row[h]
			switch {
			case h == "src_ip" || h == "dst_ip":
				want = canonIP(t, want)
				got = canonIP(t, got)
			case floats[h]:
				f, err := strconv.ParseFloat(want, 64)
				if err != nil {
					t.Fatalf("%s %q: %v", h, want, err)
				}
				want = strconv.FormatUint(math.Float64bits(f), 16)
			}
			if got != want {
				t.Errorf("flow %s column %s: IPFIX %q, CSV %q", row["id"], h, got, want)
			}
		}
		wantReason := map[string]string{"0": "1", "1": "2", "2": "5", "-1": "3"}[row["expiration_id"]]
		if cells["flowEndReason"] != wantReason {
			t.Errorf("flow %s: flowEndReason %s for expiration_id %s", row["id"], cells["flowEndReason"], row["expiration_id"])
		}
	}
}

// tcpCollector is a test-side IPFIX collector over TCP that can be
// stopped and started again on the same port.
type tcpCollector struct {
	addr string
	c    *collected
	mu   sync.Mutex
	ln   net.Listener
	conn []net.Conn
	wg   sync.WaitGroup
}

func (tc *tcpCollector) start(t *testing.T) {
	ln, err := net.Listen("tcp", tc.addr)
	if err != nil {
		t.Fatal(err)
	}
	tc.mu.Lock()
	tc.ln = ln
	tc.mu.Unlock()
	tc.wg.Add(1)
	go func() {
		defer tc.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			tc.mu.Lock()
			tc.conn = append(tc.conn, conn)
			tc.mu.Unlock()
			tc.wg.Add(1)
			go func() {
				defer tc.wg.Done()
				d := ipfixread.NewDecoder() // templates are per session
				br := bufio.NewReader(conn)
				for {
					b, err := ipfixread.ReadMessage(br)
					if err != nil {
						if err != io.EOF && !strings.Contains(err.Error(), "closed") {
							tc.c.mu.Lock()
							tc.c.errs = append(tc.c.errs, err)
							tc.c.mu.Unlock()
						}
						return
					}
					tc.c.add(d, b)
				}
			}()
		}
	}()
}

// stop closes the listener and the connections, as a collector that is
// restarted does.
func (tc *tcpCollector) stop() {
	tc.mu.Lock()
	tc.ln.Close()
	for _, c := range tc.conn {
		c.Close()
	}
	tc.conn = nil
	tc.mu.Unlock()
	tc.wg.Wait()
}

// TestIPFIXTCPCollectorRestart feeds a capture through a pipe in three
// parts; between the first and the second the test's TCP collector is
// stopped, and it is started again before the third. Flows that expire
// meanwhile wait in the exporter's buffer: the collector gets every flow
// of our CSV exactly once.
func TestIPFIXTCPCollectorRestart(t *testing.T) {
	capture := filepath.Join(corpus.Dir(t), "pcaps", "skype.pcap")
	data, err := os.ReadFile(capture)
	if err != nil {
		t.Fatal(err)
	}
	tc := &tcpCollector{addr: freeAddr(t), c: &collected{}}
	tc.start(t)
	out := filepath.Join(t.TempDir(), "flows.csv")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A short idle timeout makes flows expire along the capture, not all
	// at its end.
	metrics := freeAddr(t)
	cmd := exec.CommandContext(ctx, nfstreamBin, "-r", "-", "--idle-timeout", "1", "-o", out, "--ipfix", "tcp://"+tc.addr, "--metrics-addr", metrics)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, cond func() bool) {
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	// The pipeline meters packets in batches of 1024: cut after packets
	// 1300 and 2600 (of 3284), so each part exports flows.
	third, twoThirds := pcapOffset(t, data, 1300), pcapOffset(t, data, 2600)
	stdin.Write(data[:third])
	waitFor("the first flows", func() bool { return len(tc.c.dataRecords()) > 0 })
	before := len(tc.c.dataRecords())
	tc.stop()
	time.Sleep(300 * time.Millisecond)
	stdin.Write(data[third:twoThirds])
	time.Sleep(time.Second) // flows expire while the collector is down
	tc.start(t)
	// The metrics count what was sent, per collector, and no drop.
	label := `{collector="tcp://` + tc.addr + `"}`
	text := scrapeUntil(metrics, 50, "nfstream_ipfix_flows_sent_total"+label, "nfstream_ipfix_flows_dropped_total"+label+" 0")
	sent := -1
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, "nfstream_ipfix_flows_sent_total"+label+" "); ok {
			sent, _ = strconv.Atoi(v)
		}
	}
	if sent < before {
		t.Errorf("nfstream_ipfix_flows_sent_total %d, the collector had %d flows before the restart:\n%s", sent, before, text)
	}
	if !strings.Contains(text, "nfstream_ipfix_flows_dropped_total"+label+" 0") {
		t.Errorf("metrics should count no drop:\n%s", text)
	}
	stdin.Write(data[twoThirds:])
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("nfstream: %v\n%s", err, stderr.String())
	}
	defer tc.stop()
	_, rows := readCSVRows(t, out)
	waitFor("every flow", func() bool { return len(tc.c.dataRecords()) >= len(rows) })
	time.Sleep(200 * time.Millisecond)
	ids := map[uint64]int{}
	for _, r := range tc.c.dataRecords() {
		b, ok := r.Get(ipfixread.Element{ID: 148})
		if !ok {
			t.Fatal("a record without flowId")
		}
		id, _ := ipfixread.Uint(b)
		ids[id]++
	}
	for _, row := range rows {
		id, _ := strconv.ParseUint(row["id"], 10, 64)
		if ids[id] != 1 {
			t.Errorf("flow %d received %d times", id, ids[id])
		}
	}
	if len(ids) != len(rows) {
		t.Errorf("%d distinct flows received, %d written to the CSV", len(ids), len(rows))
	}
	t.Logf("%d flows before the restart, %d in all; stderr:\n%s", before, len(rows), stderr.String())
	if before >= len(rows) {
		t.Errorf("every flow was sent before the restart: the test proves nothing")
	}
	if !strings.Contains(stderr.String(), "1 reconnection)") || strings.Contains(stderr.String(), "dropped") {
		t.Errorf("summary should say 1 reconnection and no drop: %s", stderr.String())
	}
	for _, err := range tc.c.errs {
		t.Errorf("collector: %v", err)
	}
}

// stopDaemon ends a collector started by startDaemon: SIGTERM to its
// process group, SIGKILL if it is still there after 5 s. It may be called
// more than once.
func stopDaemon(cmd *exec.Cmd) {
	if cmd.ProcessState != nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// pcapOffset returns the offset of packet n (from 0) of a little-endian
// pcap file.
func pcapOffset(t *testing.T, data []byte, n int) int {
	off := 24
	for i := 0; i < n; i++ {
		if off+16 > len(data) {
			t.Fatalf("the capture has fewer than %d packets", n)
		}
		off += 16 + int(uint32(data[off+8])|uint32(data[off+9])<<8|uint32(data[off+10])<<16|uint32(data[off+11])<<24)
	}
	return off
}

// TestIPFIXFlags: bad --ipfix values are usage errors naming the flag;
// --ipfix without -o writes nothing on standard output, with -o - it
// writes the CSV there too.
func TestIPFIXFlags(t *testing.T) {
	in := filepath.Join(corpus.RepoRoot(t), "testdata", "eth_ipv4.pcap")
	for _, args := range [][]string{
		{"--ipfix", "127.0.0.1:4739"},
		{"--ipfix", "sctp://127.0.0.1:4739"},
		{"--ipfix", "udp://127.0.0.1:0"},
		{"--ipfix-mtu", "1400"},
		{"--ipfix", "udp://127.0.0.1:4739", "--ipfix-mtu", "100"},
		{"--ipfix", "tcp://127.0.0.1:4739", "--ipfix-buffer", "0"},
	} {
		r := runNFStream(t, nil, append([]string{"-r", in}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "ipfix") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message naming the flag", args, r.code, r.stderr)
		}
	}
	col, url := listenUDP(t)
	r := runNFStream(t, nil, "-r", in, "--ipfix", url)
	if r.code != 0 || r.stdout != "" {
		t.Errorf("--ipfix only: exit %d, %d bytes on standard output; want 0 and none", r.code, len(r.stdout))
	}
	r2 := runNFStream(t, nil, "-r", in, "--ipfix", url, "-o", "-")
	if r2.code != 0 || !strings.HasPrefix(r2.stdout, "id,expiration_id,") {
		t.Errorf("--ipfix with -o -: exit %d, standard output %.40q", r2.code, r2.stdout)
	}
	rows := strings.Count(r2.stdout, "\n") - 1
	for deadline := time.Now().Add(5 * time.Second); len(col.dataRecords()) < 2*rows && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(col.dataRecords()); n != 2*rows {
		t.Errorf("the collector got %d records from two runs of %d flows", n, rows)
	}
}
