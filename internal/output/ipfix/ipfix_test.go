package ipfix

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/testing/ipfixread"
)

// testRecord is a flow with every column group filled.
func testRecord(id uint64, v6 bool) *features.Record {
	r := &features.Record{ID: id, SrcPort: 443, DstPort: 50000, Protocol: 6, IPVersion: 4}
	copy(r.SrcIP[:], []byte{10, 0, 0, 1})
	copy(r.DstIP[:], []byte{10, 0, 0, 2})
	if v6 {
		r.IPVersion = 6
		r.SrcIP = [16]byte{0x20, 1, 0xd, 0xb8, 15: 1}
		r.DstIP = [16]byte{0x20, 1, 0xd, 0xb8, 15: 2}
	}
	r.SrcMAC = [6]byte{0x10, 0x13, 0x31, 0xf1, 0x39, 0x76}
	r.Bidirectional = features.Direction{FirstSeenMS: 1581109434258, LastSeenMS: 1581109435258, Packets: 10, Bytes: 5000}
	r.Src2Dst = features.Direction{FirstSeenMS: 1581109434258, LastSeenMS: 1581109435000, Packets: 6, Bytes: 3000}
	r.Dst2Src = features.Direction{FirstSeenMS: 1581109434300, LastSeenMS: 1581109435258, Packets: 4, Bytes: 2000}
	r.Bidirectional.PS.Mean = 500.5
	r.SPLTDirection = []int8{0, 1, 0, -1}
	r.SPLTPS = []int32{60, 1500, 52, -1}
	r.SPLTPIAT = []int64{0, 12, 30, -1}
	r.L7 = &features.L7{Application: "TLS.Google", Category: "Web", Confidence: 6, RequestedServerName: "www.example.com", UserAgent: "curl/8.0"}
	return r
}

var allColumns = features.Schema{Tunnel: true, Stats: true, SPLT: true, L7: true}.Columns()

// udpCollector gathers the datagrams sent to it.
type udpCollector struct {
	conn *net.UDPConn
	mu   sync.Mutex
	msgs [][]byte
}

func newUDPCollector(t testing.TB) *udpCollector {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadBuffer(8 << 20)
	c := &udpCollector{conn: conn}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, append([]byte(nil), buf[:n]...))
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return c
}

func (c *udpCollector) url() string { return "udp://" + c.conn.LocalAddr().String() }

// decoded waits until n data records arrived and decodes every message.
func (c *udpCollector) decoded(t *testing.T, n int) []*ipfixread.Message {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		d := ipfixread.NewDecoder()
		var out []*ipfixread.Message
		got := 0
		c.mu.Lock()
		for _, b := range c.msgs {
			m, err := d.Decode(b)
			if err != nil {
				c.mu.Unlock()
				t.Fatal(err)
			}
			out = append(out, m)
			for _, r := range m.Records {
				if !r.Options {
					got++
				}
			}
		}
		c.mu.Unlock()
		if got >= n || time.Now().After(deadline) {
			if got != n {
				t.Fatalf("%d data records, want %d", got, n)
			}
			return out
		}
	}
}

func TestParseCollector(t *testing.T) {
	for _, s := range []string{"udp://127.0.0.1:4739", "tcp://[::1]:4739", "tcp://collector.example:4739"} {
		if _, _, err := ParseCollector(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", "127.0.0.1:4739", "sctp://h:1", "udp://h", "udp://h:0", "udp://h:70000", "udp://:4739", "tcp://h:1/x", "udp://u@h:1"} {
		if _, _, err := ParseCollector(s); err == nil || !strings.Contains(err.Error(), "ipfix collector") {
			t.Errorf("%q: error %v, want one naming the collector", s, err)
		}
	}
}

func FuzzParseCollector(f *testing.F) {
	f.Add("udp://127.0.0.1:4739")
	f.Add("tcp://[::1]:1")
	f.Fuzz(func(t *testing.T, s string) {
		network, addr, err := ParseCollector(s)
		if err != nil {
			return
		}
		if network != "udp" && network != "tcp" {
			t.Fatalf("%q: network %q", s, network)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			t.Fatalf("%q: address %q: %v", s, addr, err)
		}
	})
}

// TestTruncateToMTU: a record whose strings cannot fit a 1000-byte message
// is cut (at a character boundary), sent and counted as truncated; the
// messages stay under the MTU.
func TestTruncateToMTU(t *testing.T) {
	c := newUDPCollector(t)
	e, err := New(Config{Collector: c.url(), MTU: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Begin(allColumns); err != nil {
		t.Fatal(err)
	}
	small, err := New(Config{Collector: c.url(), MTU: 512})
	if err != nil {
		t.Fatal(err)
	}
	if err := small.Begin(allColumns); err == nil || !strings.Contains(err.Error(), "template") {
		t.Errorf("MTU 512 with every column: %v, want an error about the template", err)
	}
	small.Close()
	r := testRecord(0, true)
	r.L7.UserAgent = strings.Repeat("é", 2000) // 4000 bytes
	if err := e.Write(r); err != nil {
		t.Fatal(err)
	}
	e.Write(testRecord(1, false))
	e.Close()
	msgs := c.decoded(t, 2)
	c.mu.Lock()
	for i, b := range c.msgs {
		if len(b) > 1000 {
			t.Errorf("message %d: %d bytes", i, len(b))
		}
	}
	c.mu.Unlock()
	if st := e.Stats(); st.Truncated != 1 || st.Sent != 2 || st.Dropped != 0 {
		t.Errorf("stats %+v, want 1 truncated, 2 sent", st)
	}
	uaID := StaticID("user_agent")
	for _, m := range msgs {
		for _, r := range m.Records {
			if ua, ok := r.Get(ipfixread.Element{ID: uaID, PEN: EnterpriseNumber}); ok && len(ua) > 100 {
				if !utf8.Valid(ua) || !strings.HasPrefix(strings.Repeat("é", 2000), string(ua)) {
					t.Errorf("truncated user agent is not a prefix of whole characters")
				}
			}
		}
	}
}

// TestTCPUnreachable: with no collector, a full buffer drops records, and
// Close gives up after CloseTimeout; every record is counted.
func TestTCPUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var warnings []string
	var mu sync.Mutex
	e, err := New(Config{Collector: "tcp://" + addr, Buffer: 10, CloseTimeout: 300 * time.Millisecond,
		Warn: func(m string) { mu.Lock(); warnings = append(warnings, m); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	e.Begin(allColumns)
	time.Sleep(100 * time.Millisecond) // the first connection attempt fails
	for i := 0; i < 25; i++ {
		if err := e.Write(testRecord(uint64(i), false)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	e.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	if st := e.Stats(); st.Sent != 0 || st.Dropped != 25 {
		t.Errorf("stats %+v, want 25 dropped", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(warnings) == 0 || !strings.Contains(warnings[0], "cannot connect") {
		t.Errorf("warnings %q", warnings)
	}
	if err := e.Write(testRecord(99, false)); err != ErrClosed {
		t.Errorf("Write after Close: %v", err)
	}
}

// TestTemplateRefresh: over UDP the templates go again every
// TemplateMessages messages, and on the timer on a quiet link; every
// message carries the observation domain.
func TestTemplateRefresh(t *testing.T) {
	c := newUDPCollector(t)
	e, err := New(Config{Collector: c.url(), TemplateMessages: 2, TemplateInterval: 150 * time.Millisecond, Domain: 7})
	if err != nil {
		t.Fatal(err)
	}
	e.Begin(allColumns)
	for i := 0; i < 3; i++ {
		e.Write(testRecord(uint64(i), false))
		time.Sleep(20 * time.Millisecond) // one message each
	}
	time.Sleep(700 * time.Millisecond) // quiet: the timer refreshes
	e.Close()
	msgs := c.decoded(t, 3)
	sets, seq := 0, uint32(0)
	for i, m := range msgs {
		if m.Sequence != seq {
			t.Errorf("message %d: sequence %d, want %d", i, m.Sequence, seq)
		}
		if m.Domain != 7 {
			t.Errorf("message %d: observation domain %d, want 7", i, m.Domain)
		}
		seq += uint32(len(m.Records))
		for _, tm := range m.Templates {
			if tm.ID == TemplateIPv4 {
				sets++
			}
		}
	}
	// At the start, after two data messages, and at least twice on the
	// timer during the quiet 700 ms.
	if sets < 4 {
		t.Errorf("templates sent %d times, want at least 4", sets)
	}
}

// BenchmarkExport exports the same records as IPFIX over UDP to a
// draining local listener and as CSV to a file, in one run, and reports
// both rates and their ratio (ipfix/csv).
func BenchmarkExport(b *testing.B) {
	const n = 20000
	recs := make([]*features.Record, 64)
	for i := range recs {
		recs[i] = testRecord(uint64(i), i%4 == 0)
	}
	c := newUDPCollector(b)
	csvRate, ipfixRate := 0.0, 0.0
	for i := 0; i < b.N; i++ {
		csvRate += benchCSV(b, recs, n)
		e, err := New(Config{Collector: c.url()})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		e.Begin(allColumns)
		for j := 0; j < n; j++ {
			r := recs[j%len(recs)]
			r.ID = uint64(j)
			e.Write(r)
		}
		e.Close()
		ipfixRate += n / time.Since(start).Seconds()
		if st := e.Stats(); st.Sent != n {
			b.Fatalf("%+v", st)
		}
	}
	b.ReportMetric(csvRate/float64(b.N), "csv_flows/s")
	b.ReportMetric(ipfixRate/float64(b.N), "ipfix_flows/s")
	b.ReportMetric(ipfixRate/csvRate, "ipfix/csv")
}

// TestSchemaPlain: an anonymized column (a digest, no longer an address)
// goes as a run-time enterprise string element, never as its IANA
// element; IPv4 and IPv6 templates differ only in the address elements.
func TestSchemaPlain(t *testing.T) {
	s := NewSchema(allColumns, []string{"src_ip"})
	for _, f := range s.V4 {
		if f.PEN == 0 && (f.ID == ieSourceIPv4Address || f.ID == ieSourceIPv6Address) {
			t.Errorf("anonymized src_ip as IANA element %d", f.ID)
		}
		if f.Name == "src_ip" && (f.PEN != EnterpriseNumber || f.ID < DynamicBase || f.Type != TypeString) {
			t.Errorf("src_ip field %+v, want a string under %d from id %d", f, EnterpriseNumber, DynamicBase)
		}
	}
	s = NewSchema(allColumns, nil)
	if len(s.V4) != len(s.V6) {
		t.Fatalf("%d IPv4 fields, %d IPv6", len(s.V4), len(s.V6))
	}
	for i := range s.V4 {
		a, b := s.V4[i], s.V6[i]
		if a.ID != b.ID {
			if a.ID == ieSourceIPv4Address && b.ID == ieSourceIPv6Address && b.Length == 16 || a.ID == ieDestIPv4Address && b.ID == ieDestIPv6Address && b.Length == 16 {
				continue
			}
			t.Errorf("field %d: IPv4 %+v, IPv6 %+v", i, a, b)
		}
	}
}

// TestUDPUnreachable: over UDP with nothing listening, the port
// unreachable errors lose messages; every record is counted once, sent or
// dropped, while Write keeps reusing the buffers of the lost ones (run
// with -race: the sender gives them back under the lock).
func TestUDPUnreachable(t *testing.T) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close() // nothing listens there now: the kernel answers port unreachable
	e, err := New(Config{Collector: "udp://" + addr, Warn: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Begin(allColumns); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := 0; i < n; i++ {
		if err := e.Write(testRecord(uint64(i), i%2 == 1)); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			time.Sleep(time.Millisecond) // let the sender fail in between
		}
	}
	e.Close()
	st := e.Stats()
	if st.Sent+st.Dropped != n || st.Dropped == 0 {
		t.Errorf("stats %+v: want %d records counted, some dropped", st, n)
	}
}
