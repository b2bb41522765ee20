package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/dpi"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// ndpiReaderArgs are the flags TestConformanceNDPIReader runs Debian's
// ndpiReader (package libndpi-bin, the same nDPI 4.2 we link) with, before
// "-i CAPTURE -C CSV":
//
//   - -q -v 2: no progress output, and one line per flow on stdout with
//     the VLAN, confidence and category that its CSV does not carry.
//   - -t: decode GTP and CAPWAP tunnels and hand nDPI the inner IP packet,
//     as NFStream (decode_tunnels=True) and we do. (IP-in-IP it always
//     decodes.)
//   - -T 19 -U 19: NFStream's budget of 20 packets. ndpiReader dissects a
//     TCP flow until it has more than -T packets (UDP: -U), dissecting
//     that last packet too, then gives up with a guess, so 19 means the
//     20th packet is the last nDPI sees and the giveup comes right after
//     it, as in NFStream's flow_update_bidirectional_dissection. Like
//     NFStream it stops early once the application is known and
//     ndpi_extra_dissection_possible says there is nothing more to learn.
//     (Its defaults, 80 and 24, give the same labels on every matched
//     corpus flow today; the budget is set so that a difference can only
//     come from the integration.)
//
// Protocol guessing stays on (no -d): NFStream calls ndpi_detection_giveup
// with enable_guess=1, and so does ndpiReader by default, both at the
// budget and, for flows still open, at the end (ndpiReader) or at expiry
// (NFStream and us).
var ndpiReaderArgs = []string{"-q", "-v", "2", "-t", "-T", "19", "-U", "19"}

// l7Flow is one flow's labels as the judge sees them.
type l7Flow struct {
	proto   uint8
	vlan    uint16
	a, b    string // endpoints "ip#port", a <= b
	packets uint64
	name    string // application_name (ndpiReader: ndpi_proto)
	cat     string // application_category_name
	conf    string // application_confidence, NFStream's numbering
	sni     string // requested_server_name
	client  string // client_fingerprint: JA3, HASSH client or DHCP's
	server  string // server_fingerprint: JA3S or HASSH server
	// Ours only.
	id          uint64
	first, last uint64
	tuple       string // "TCP 1.2.3.4:5 <-> 6.7.8.9:10", as the first packet went
}

func (f *l7Flow) key() string {
	return fmt.Sprintf("%d|%d|%s|%s", f.proto, f.vlan, f.a, f.b)
}

func (f *l7Flow) labels() string { return f.name + "/" + f.cat + "/" + f.conf }

// describe is what the judge compares: the labels, then the server name
// and the two fingerprints.
func (f *l7Flow) describe() string {
	return fmt.Sprintf("%s sni=%q client=%q server=%q", f.labels(), f.sni, f.client, f.server)
}

// bracketed returns the value of the first "[name: value]" field of an
// ndpiReader -v 2 line, up to its first space (ndpiReader appends
// " (WEAK)" and the like to fingerprints) unless whole is set.
func bracketed(line, name string, whole bool) string {
	_, rest, ok := strings.Cut(line, "["+name+": ")
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, "]")
	if !whole {
		v, _, _ = strings.Cut(v, " ")
	}
	return v
}

// firstOf returns the first non-empty string.
func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func endpoints(ipA string, portA uint16, ipB string, portB uint16) (string, string) {
	a, b := ipA+"#"+strconv.Itoa(int(portA)), ipB+"#"+strconv.Itoa(int(portB))
	if b < a {
		a, b = b, a
	}
	return a, b
}

// patchIPv6 rewrites an address as nDPI's ndpi_patchIPv6Address does to
// the inet_ntop text before ndpiReader prints it: every ":0:" becomes "::".
func patchIPv6(s string) string {
	var out strings.Builder
	for i := 0; i < len(s); {
		if s[i] == ':' && i+2 < len(s) && s[i+1] == '0' && s[i+2] == ':' {
			out.WriteString("::")
			i += 3
			continue
		}
		out.WriteByte(s[i])
		i++
	}
	return out.String()
}

// ndpiReaderConfidence maps nDPI 4.2's ndpi_confidence_get_name to
// NFStream's numbering (docs/compatibility.md item 7), the numbering of our column.
var ndpiReaderConfidence = map[string]string{
	"Unknown": "0", "Match by port": "1", "Match by IP": "7", "DPI (cache)": "5", "DPI": "6",
}

var protoNames = map[uint8]string{1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 58: "ICMPV6", 112: "VRRP"}

// ndpiReaderLine matches the per-flow lines ndpiReader -v 2 prints
// (printFlow): index, L4 protocol, the two endpoints, the VLAN when not 0,
// then [proto: (TUNNEL:)ids/name][Encrypted|ClearText][Confidence: c]
// [cat: name/id] (no cat when it is 0, Unspecified), ... and the packet
// counts of both directions.
var ndpiReaderLine = regexp.MustCompile(`^\t\d+\t(\S+) (\[[^\]]*\]|[0-9.]+):(\d+) (?:<->|->) (\[[^\]]*\]|[0-9.]+):(\d+) ` +
	`(?:\[VLAN: (\d+)\])?\[proto: (?:[A-Za-z]+:)?[0-9.]+/([^\]]*)\]\[(?:Encrypted|ClearText)\]\[Confidence: ([^\]]*)\]` +
	`(?:\[cat: (.*?)/\d+\])?.*?\[(\d+) pkts/\d+ bytes (?:<->|->) (\d+) pkts/\d+ bytes\]`)

// parseNDPIReader reads ndpiReader's CSV (-C) and its -v 2 lines. Both come
// from printFlow, one CSV row and one line per flow in the same order: the
// CSV gives the L4 protocol number, the endpoints and ndpi_proto, the line
// the VLAN, confidence, category, packet counts, server name and
// fingerprints. The two are checked against each other.
func parseNDPIReader(csvText, stdout []byte) ([]l7Flow, error) {
	r := csv.NewReader(bytes.NewReader(csvText))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("CSV: %w", err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("CSV: no header")
	}
	// The columns up to ndpi_proto come before any free text, so they are
	// where the header says even when a later value holds a comma.
	col := map[string]int{}
	for i, h := range rows[0] {
		col[strings.TrimPrefix(h, "#")] = i
	}
	for _, c := range []string{"protocol", "src_ip", "src_port", "dst_ip", "dst_port", "ndpi_proto"} {
		if i, ok := col[c]; !ok || i > col["ndpi_proto"] {
			return nil, fmt.Errorf("CSV header %q: no column %s up to ndpi_proto", rows[0], c)
		}
	}
	var lines [][]string
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		text := sc.Text()
		if !strings.Contains(text, "[proto: ") || !strings.HasPrefix(text, "\t") {
			continue
		}
		m := ndpiReaderLine.FindStringSubmatch(text)
		if m == nil {
			return nil, fmt.Errorf("flow line not understood: %q", text)
		}
		// The fields printFlow adds when they are set: the flow's
		// host_server_name, and the fingerprints.
		m = append(m, bracketed(text, "Hostname/SNI", true),
			firstOf(bracketed(text, "JA3C", false), bracketed(text, "HASSH-C", false), bracketed(text, "DHCP Fingerprint", false)),
			firstOf(bracketed(text, "JA3S", false), bracketed(text, "HASSH-S", false)))
		lines = append(lines, m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	rows = rows[1:]
	if len(rows) != len(lines) {
		return nil, fmt.Errorf("%d CSV rows but %d flow lines", len(rows), len(lines))
	}
	flows := make([]l7Flow, len(rows))
	for i, row := range rows {
		m := lines[i]
		if len(row) <= col["ndpi_proto"] {
			return nil, fmt.Errorf("CSV row %d is short: %q", i, row)
		}
		proto, err1 := strconv.ParseUint(row[col["protocol"]], 10, 8)
		sp, err2 := strconv.ParseUint(row[col["src_port"]], 10, 16)
		dp, err3 := strconv.ParseUint(row[col["dst_port"]], 10, 16)
		vlan := uint64(0)
		var err4 error
		if m[6] != "" {
			vlan, err4 = strconv.ParseUint(m[6], 10, 16)
		}
		p1, err5 := strconv.ParseUint(m[10], 10, 64)
		p2, err6 := strconv.ParseUint(m[11], 10, 64)
		for _, err := range []error{err1, err2, err3, err4, err5, err6} {
			if err != nil {
				return nil, fmt.Errorf("flow %d: %v", i, err)
			}
		}
		src, dst := row[col["src_ip"]], row[col["dst_ip"]]
		if strings.Trim(m[2], "[]") != src || m[3] != row[col["src_port"]] ||
			strings.Trim(m[4], "[]") != dst || m[5] != row[col["dst_port"]] {
			return nil, fmt.Errorf("CSV row %d (%s:%s %s:%s) and flow line %d (%s:%s %s:%s) are not the same flow",
				i, src, row[col["src_port"]], dst, row[col["dst_port"]], i, m[2], m[3], m[4], m[5])
		}
		// The CSV prints the name into a 32-byte buffer, the line into a
		// 64-byte one.
		name := row[col["ndpi_proto"]]
		if !strings.HasPrefix(m[7], name) {
			return nil, fmt.Errorf("flow %d: CSV ndpi_proto %q, flow line %q", i, name, m[7])
		}
		conf, ok := ndpiReaderConfidence[m[8]]
		if !ok {
			return nil, fmt.Errorf("flow %d: unknown confidence %q", i, m[8])
		}
		cat := m[9]
		if cat == "" {
			cat = "Unspecified"
		}
		f := l7Flow{proto: uint8(proto), vlan: uint16(vlan), packets: p1 + p2, name: name, cat: cat, conf: conf,
			sni: m[12], client: m[13], server: m[14]}
		f.a, f.b = endpoints(src, uint16(sp), dst, uint16(dp))
		flows[i] = f
	}
	return flows, nil
}

// ourL7Flows runs a capture through the pipeline with NFStream's defaults
// and returns its flows as the judge sees them.
func ourL7Flows(t *testing.T, path string) []l7Flow {
	t.Helper()
	var c collector
	// A capture libpcap cannot read to the end keeps the flows read so far.
	_, _ = Run(context.Background(), l7Defaults([]string{path}, 20), &c, nil)
	flows := make([]l7Flow, len(c.recs))
	for i := range c.recs {
		r := &c.recs[i]
		src := patchIPv6(string(features.AppendIP(nil, r.IPVersion, r.SrcIP)))
		dst := patchIPv6(string(features.AppendIP(nil, r.IPVersion, r.DstIP)))
		proto, ok := protoNames[r.Protocol]
		if !ok {
			proto = strconv.Itoa(int(r.Protocol))
		}
		f := l7Flow{
			proto: r.Protocol, vlan: r.VlanID, packets: r.Bidirectional.Packets,
			name: r.L7.Application, cat: r.L7.Category, conf: strconv.Itoa(int(r.L7.Confidence)),
			sni: r.L7.RequestedServerName, client: r.L7.ClientFingerprint, server: r.L7.ServerFingerprint,
			id: r.ID, first: r.Bidirectional.FirstSeenMS, last: r.Bidirectional.LastSeenMS,
			tuple: fmt.Sprintf("%s %s:%d <-> %s:%d", proto, src, r.SrcPort, dst, r.DstPort),
		}
		f.a, f.b = endpoints(src, r.SrcPort, dst, r.DstPort)
		flows[i] = f
	}
	return flows
}

// splitByTimeouts reports whether flows (one 5-tuple, more than one flow)
// are what NFStream's timeouts make of one connection: each flow begins at
// least the idle timeout after the previous one's last packet, or at least
// the active timeout after its first.
func splitByTimeouts(flows []*l7Flow, idle, active uint64) bool {
	fs := append([]*l7Flow(nil), flows...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].first < fs[j].first })
	for i := 1; i < len(fs); i++ {
		prev, next := fs[i-1], fs[i]
		if next.first < prev.last {
			return false
		}
		if next.first-prev.last < idle && next.first-prev.first < active {
			return false
		}
	}
	return true
}

// disagreement is one row of testdata/l7-disagreements.tsv.
type disagreement struct {
	capture, flow, ours, nfstream, ndpiReader, cause string
}

const disagreementsFile = "l7-disagreements.tsv"

// readDisagreements reads the table of known disagreements between our
// labels and ndpiReader's: one row per flow, tab-separated, "#" lines are
// comments.
func readDisagreements(t *testing.T) map[string]disagreement {
	t.Helper()
	path := filepath.Join(corpus.RepoRoot(t), "testdata", disagreementsFile)
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]disagreement{}
	for n, line := range strings.Split(string(text), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 || strings.TrimSpace(f[5]) == "" {
			t.Fatalf("%s:%d: want 6 tab-separated fields (capture, flow, ours, NFStream's, ndpiReader's, cause): %q", disagreementsFile, n+1, line)
		}
		d := disagreement{f[0], f[1], f[2], f[3], f[4], strings.TrimSpace(f[5])}
		if strings.EqualFold(d.cause, "our bug") {
			t.Errorf("%s:%d: %s %s is classified as our bug: fix it", disagreementsFile, n+1, d.capture, d.flow)
		}
		key := d.capture + "\t" + d.flow
		if _, dup := out[key]; dup {
			t.Errorf("%s:%d: %s %s is listed twice", disagreementsFile, n+1, d.capture, d.flow)
		}
		out[key] = d
	}
	return out
}

// ndpiReaderVersion returns the nDPI version ndpiReader reports.
func ndpiReaderVersion(bin string) string {
	out, _ := exec.Command(bin, "-h").CombinedOutput()
	m := regexp.MustCompile(`Welcome to nDPI (\S+)`).FindSubmatch(out)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// TestConformanceNDPIReader makes nDPI 4.2's own reader the judge of our
// integration: over the whole corpus, the flows of our default run
// (NFStream's rules: 20 dissections, one meter) and the flows ndpiReader
// finds (ndpiReaderArgs) are matched by L4 protocol, VLAN and the two
// endpoints (ip:port, either order), and on every flow matched one to one
// our application_name must equal its ndpi_proto on at least 98% of the
// flows. The judge also compares what it prints of the category and
// confidence, the server name and the JA3/JA3S, HASSH and DHCP
// fingerprints, which come from the same nDPI flow state as our other
// columns, so our collect is checked too. Every flow on which any of these
// differs must be listed, with its cause, in testdata/l7-disagreements.tsv,
// no row there may say "our bug", and every row must still disagree.
//
// Flows that cannot be matched one to one are counted apart and reported:
// ndpiReader reading a file has no timeouts (it expires idle flows only in
// live capture), so it keeps as one flow what NFStream's idle and active
// timeouts split; and it drops packets NFStream meters (IPv4 packets
// captured shorter than their total length, non-first fragments, tunnelled
// frames it does not take for IP), so some of our flows have no
// counterpart at all.
func TestConformanceNDPIReader(t *testing.T) {
	needDPI(t)
	bin, err := exec.LookPath("ndpiReader")
	if err != nil {
		t.Skip("ndpiReader not found (Debian package libndpi-bin, which scripts/deps.sh installs): cannot judge the nDPI integration")
	}
	if v := ndpiReaderVersion(bin); v != dpi.Version() {
		t.Skipf("%s runs nDPI %q, we link nDPI %q: the judge must run the same library", bin, v, dpi.Version())
	}
	dir := corpus.Dir(t)
	known := readDisagreements(t)
	caps := corpus.Captures(t, dir)
	tmp := t.TempDir()

	// ndpiReader runs in the background, a few captures at a time, while
	// this goroutine runs ours.
	type judged struct {
		flows []l7Flow
		err   error
	}
	results := make([]chan judged, len(caps))
	jobs := make(chan int)
	for i := range results {
		results[i] = make(chan judged, 1)
	}
	for range max(1, runtime.NumCPU()-1) {
		go func() {
			for i := range jobs {
				out := filepath.Join(tmp, fmt.Sprintf("%d.csv", i))
				args := append(append([]string(nil), ndpiReaderArgs...), "-i", caps[i].Path, "-C", out)
				cmd := exec.Command(bin, args...)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err != nil {
					results[i] <- judged{err: fmt.Errorf("ndpiReader %s: %v: %s", strings.Join(args, " "), err, stderr.Bytes())}
					continue
				}
				text, err := os.ReadFile(out)
				if err == nil {
					var flows []l7Flow
					flows, err = parseNDPIReader(text, stdout.Bytes())
					results[i] <- judged{flows: flows, err: err}
					continue
				}
				results[i] <- judged{err: err}
			}
		}()
	}
	go func() {
		for i := range caps {
			jobs <- i
		}
		close(jobs)
	}()

	cfg := l7Defaults(nil, 20)
	idle, active := cfg.Meter.IdleTimeout, cfg.Meter.ActiveTimeout
	var ourFlows, matched, samePackets, theirUnmatched int
	agree := make([]int, 6)
	var split, absent, other int
	var absentIn, otherIn []string
	seen := map[string]bool{}
	for i, c := range caps {
		ours := ourL7Flows(t, c.Path)
		j := <-results[i]
		if j.err != nil {
			t.Errorf("%s: %v", c.Name, j.err)
			continue
		}
		nfstream := map[uint64]string{}
		if tab, err := corpus.ReadCSV(filepath.Join(dir, "results", c.Name)); err == nil {
			for _, row := range tab.Rows {
				id, _ := strconv.ParseUint(row[tab.Col("id")], 10, 64)
				nfstream[id] = row[tab.Col("application_name")] + "/" + row[tab.Col("application_category_name")] + "/" + row[tab.Col("application_confidence")]
			}
		}
		mine, theirs := map[string][]*l7Flow{}, map[string][]*l7Flow{}
		for k := range ours {
			mine[ours[k].key()] = append(mine[ours[k].key()], &ours[k])
		}
		for k := range j.flows {
			theirs[j.flows[k].key()] = append(theirs[j.flows[k].key()], &j.flows[k])
		}
		ourFlows += len(ours)
		for k, ts := range theirs {
			if len(ts) != 1 || len(mine[k]) != 1 {
				theirUnmatched += len(ts)
			}
		}
		keys := make([]string, 0, len(mine))
		for k := range mine {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ofs, ts := mine[k], theirs[k]
			switch {
			case len(ofs) == 1 && len(ts) == 1:
			case len(ts) == 0:
				absent += len(ofs)
				for range ofs {
					absentIn = append(absentIn, c.Name)
				}
				continue
			case len(ts) == 1 && splitByTimeouts(ofs, idle, active) && sumPackets(ofs) == ts[0].packets:
				split += len(ofs)
				continue
			default:
				other += len(ofs)
				otherIn = append(otherIn, fmt.Sprintf("%s %s (%d of ours, %d of ndpiReader's)", c.Name, ofs[0].tuple, len(ofs), len(ts)))
				continue
			}
			o, n := ofs[0], ts[0]
			matched++
			if o.packets == n.packets {
				samePackets++
			} else {
				t.Logf("%s flow id %d %s: %d packets, ndpiReader saw %d", c.Name, o.id, o.tuple, o.packets, n.packets)
			}
			for x, eq := range []bool{o.name == n.name, o.cat == n.cat, o.conf == n.conf, o.sni == n.sni, o.client == n.client, o.server == n.server} {
				if eq {
					agree[x]++
				}
			}
			if o.describe() == n.describe() {
				continue
			}
			flow := fmt.Sprintf("id %d %s", o.id, o.tuple)
			key := c.Name + "\t" + flow
			seen[key] = true
			d, ok := known[key]
			switch {
			case !ok:
				t.Errorf("%s flow %s: ours %s, ndpiReader %s (NFStream %s; %d packets, ndpiReader saw %d): not in testdata/%s; find the cause and add\n%s\t%s\t%s\t%s\t%s\tCAUSE",
					c.Name, flow, o.describe(), n.describe(), nfstream[o.id], o.packets, n.packets, disagreementsFile,
					c.Name, flow, o.describe(), nfstream[o.id], n.describe())
			case d.ours != o.describe() || d.ndpiReader != n.describe() || d.nfstream != nfstream[o.id]:
				t.Errorf("%s flow %s: ours %s, NFStream %s, ndpiReader %s, but testdata/%s says %s, %s, %s",
					c.Name, flow, o.describe(), nfstream[o.id], n.describe(), disagreementsFile, d.ours, d.nfstream, d.ndpiReader)
			}
		}
	}
	for key, d := range known {
		if !seen[key] {
			t.Errorf("testdata/%s lists %s %s (%s), which no longer disagrees with ndpiReader: remove the row", disagreementsFile, d.capture, d.flow, d.cause)
		}
	}
	if matched == 0 {
		t.Fatal("no flow matched ndpiReader's")
	}
	pct := func(n int) float64 { return 100 * float64(n) / float64(matched) }
	for x, col := range []string{"application_name", "application_category_name", "application_confidence",
		"requested_server_name", "client_fingerprint", "server_fingerprint"} {
		fmt.Printf("conformance L7 ndpiReader %s: %d of %d matched flows (%.1f%%)\n", col, agree[x], matched, pct(agree[x]))
	}
	fmt.Printf("conformance L7 ndpiReader unmatched: %d of our %d flows (%d split by NFStream's timeouts, %d absent from ndpiReader, %d other), %d of ndpiReader's flows\n",
		split+absent+other, ourFlows, split, absent, other, theirUnmatched)
	t.Logf("%d of the %d matched flows have the same packet count in ndpiReader", samePackets, matched)
	t.Logf("flows absent from ndpiReader, by capture: %s", countNames(absentIn))
	for _, s := range otherIn {
		t.Logf("not matched one to one: %s", s)
	}
	if pct(agree[0]) < 98 {
		t.Errorf("application_name equals ndpiReader's ndpi_proto on %.1f%% of the matched flows, want at least 98%%", pct(agree[0]))
	}
}

func sumPackets(fs []*l7Flow) uint64 {
	var n uint64
	for _, f := range fs {
		n += f.packets
	}
	return n
}

// countNames summarises a list with repeats as "a ×3, b ×1", sorted.
func countNames(names []string) string {
	n := map[string]int{}
	for _, s := range names {
		n[s]++
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, n[k])
	}
	return strings.Join(parts, ", ")
}
