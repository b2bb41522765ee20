package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/dpi"
)

// Flood captures: n one-packet UDP flows, flow i from 10.0.(i/25000) port
// 40000+i%25000 to 192.168.0.1:53, packet i at i*step after the start.
// The source ports stay clear of the tunnel ports the decoder opens (TZSP
// 37008, GTP-U 2152, CAPWAP 5246-5247).
const floodPorts = 25000

func floodFlow(i int) (src uint32, port uint16) {
	return 10<<24 | uint32(i/floodPorts), uint16(40000 + i%floodPorts)
}

// writeFlood writes the flood capture as a pcap file, records written
// directly (gopacket would take minutes for millions).
func writeFlood(t *testing.T, n int, step time.Duration) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "flood.pcap")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // Ethernet
	w.Write(hdr[:])
	var rec [16 + 14 + 20 + 8]byte
	frame := rec[16:]
	copy(frame[0:12], []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1})
	frame[12] = 0x08 // IPv4
	ip, udp := frame[14:34], frame[34:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], 28)
	copy(ip[16:], []byte{192, 168, 0, 1})
	binary.BigEndian.PutUint16(udp[2:], 53)
	binary.BigEndian.PutUint16(udp[4:], 8)
	start := time.Unix(1700000000, 0)
	for i := 0; i < n; i++ {
		ts := start.Add(time.Duration(i) * step)
		binary.LittleEndian.PutUint32(rec[0:], uint32(ts.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(ts.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
		src, port := floodFlow(i)
		binary.BigEndian.PutUint32(ip[12:], src)
		binary.BigEndian.PutUint16(udp[0:], port)
		binary.BigEndian.PutUint16(ip[10:], 0)
		var sum uint32
		for k := 0; k < 20; k += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[k:]))
		}
		sum = sum>>16 + sum&0xffff
		sum += sum >> 16
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		w.Write(rec[:])
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return name
}

// floodRows reads a CSV output of a flood of n flows and checks that every
// flow is there exactly once, with ids 0, 1, 2... in order; it returns how
// many rows have each expiration id.
func floodRows(t *testing.T, path string, n int) map[int]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "id,expiration_id,src_ip,src_mac,src_oui,src_port,") {
		t.Fatalf("%s: no CSV header", path)
	}
	seen := make([]bool, n)
	reasons := map[int]int{}
	rows := 0
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), ",", 7)
		if len(fields) < 7 {
			t.Fatalf("row %d: %q", rows, sc.Text())
		}
		id, _ := strconv.Atoi(fields[0])
		reason, _ := strconv.Atoi(fields[1])
		var a, b, c, d int
		fmt.Sscanf(fields[2], `"%d.%d.%d.%d"`, &a, &b, &c, &d)
		port, _ := strconv.Atoi(fields[5])
		i := (b<<16|c<<8|d)*floodPorts + port - 40000
		if id != rows || a != 10 || i < 0 || i >= n || seen[i] {
			t.Fatalf("row %d: id %d, flow %d (%s port %d): out of order, unknown or seen twice", rows, id, i, fields[2], port)
		}
		seen[i] = true
		reasons[reason]++
		rows++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if rows != n {
		t.Fatalf("%d flows written, want every one of the %d", rows, n)
	}
	return reasons
}

var evictedNote = regexp.MustCompile(`\((\d+) flows evicted early: active-flow limit (\d+)\)`)

// runLimited runs nfstream with a data-segment limit (RLIMIT_DATA, KiB):
// Go runs under it, and the heap and nDPI's malloc count against it.
func runLimited(t *testing.T, kib int, args ...string) result {
	t.Helper()
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + a + "'"
	}
	cmd := exec.Command("sh", "-c", fmt.Sprintf("ulimit -d %d && exec '%s' %s", kib, nfstreamBin, strings.Join(quoted, " ")))
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// TestFloodBoundedMemory meters a flood of 2,000,000 concurrent one-packet
// flows (all within 4 s, none idles out) under a 400 MiB limit on the data
// segment. Without a bound the table alone needs about 1.1 GB (2.7 GB with
// nDPI) and the run dies with "fatal error: runtime: out of memory", exit
// 2. The default bound, from RLIMIT_DATA, evicts the oldest flows early:
// exit 0, every flow written exactly once, the evictions in the summary;
// with one meter and two, and with nDPI.
func TestFloodBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and meters a 2,000,000-flow capture (about 30 s)")
	}
	const n, limitKiB = 2_000_000, 400 << 10
	start := time.Now()
	capFile := writeFlood(t, n, 2*time.Microsecond)
	runs := [][]string{{"--n-dissections", "0", "--meters", "1"}, {"--n-dissections", "0", "--meters", "2"}}
	if dpi.Version() != "" {
		runs = append(runs, []string{"--n-dissections", "20", "--meters", "1"})
	}
	for _, extra := range runs {
		out := filepath.Join(t.TempDir(), "flows.csv")
		began := time.Now()
		r := runLimited(t, limitKiB, append([]string{"-r", capFile, "-o", out}, extra...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d under a %d KiB data limit: %s", extra, r.code, limitKiB, r.stderr)
		}
		took := time.Since(began)
		m := evictedNote.FindStringSubmatch(r.stderr)
		if m == nil || !strings.Contains(r.stderr, "nfstream: 2000000 flows from 2000000 packets") {
			t.Fatalf("%v: summary %q does not count the flows and the evictions", extra, r.stderr)
		}
		evicted, _ := strconv.Atoi(m[1])
		limit, _ := strconv.Atoi(m[2])
		reasons := floodRows(t, out, n)
		// Two meters each hold up to ceil(limit/2) at the end.
		if reasons[2] != evicted || reasons[0] != n-evicted || evicted > n-limit || evicted < n-limit-1 {
			t.Errorf("%v: rows by expiration id %v; summary: %d evicted, limit %d", extra, reasons, evicted, limit)
		}
		t.Logf("%v: %s; metered in %v", extra, strings.TrimSpace(r.stderr), took.Round(time.Millisecond))
	}
	// 0 means no bound: the flood then outgrows the limit, as before.
	r := runLimited(t, limitKiB, "-r", capFile, "-o", filepath.Join(t.TempDir(), "unbounded.csv"), "--n-dissections", "0", "--max-active-flows", "0")
	if r.code == 0 || !strings.Contains(r.stderr, "out of memory") {
		t.Errorf("--max-active-flows 0 under a %d KiB data limit: exit %d, want death by out of memory", limitKiB, r.code)
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}

// TestMaxActiveFlows checks the flag: with a bound of 1000 on 50,000
// concurrent flows, 49,000 leave early with expiration id 2, oldest first
// with one meter, every flow exactly once with one or two meters (each of
// two meters holds at most 500); 0 means no bound; negative is refused.
func TestMaxActiveFlows(t *testing.T) {
	const n = 50_000
	capFile := writeFlood(t, n, time.Microsecond)
	for _, meters := range []string{"1", "2"} {
		out := filepath.Join(t.TempDir(), "flows.csv")
		r := runNFStream(t, nil, "-r", capFile, "-o", out, "--n-dissections", "0", "--max-active-flows", "1000", "--meters", meters)
		if r.code != 0 {
			t.Fatalf("--meters %s: exit %d: %s", meters, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "(49000 flows evicted early: active-flow limit 1000)") {
			t.Errorf("--meters %s: summary %q", meters, r.stderr)
		}
		if reasons := floodRows(t, out, n); reasons[2] != 49000 || reasons[0] != 1000 {
			t.Errorf("--meters %s: rows by expiration id %v", meters, reasons)
		}
		if meters == "1" {
			// Creation order: flow i is evicted by flow i+1000, so the
			// rows are the flows in order.
			data, _ := os.ReadFile(out)
			rows := lines(string(data))
			for i, row := range rows[1:] {
				_, port := floodFlow(i)
				if !strings.Contains(row, fmt.Sprintf(`",%d,"192.168.0.1"`, port)) {
					t.Fatalf("row %d %q is not flow %d", i, row, i)
				}
			}
		}
	}
	// All packets at one instant: no idle scan comes, and the evicted
	// flows still reach the output as they go (rounds), in order.
	sameTime := writeFlood(t, n, 0)
	out := filepath.Join(t.TempDir(), "flows.csv")
	r := runNFStream(t, nil, "-r", sameTime, "-o", out, "--n-dissections", "0", "--max-active-flows", "1000", "--meters", "2")
	if r.code != 0 || !strings.Contains(r.stderr, "(49000 flows evicted early") {
		t.Errorf("one instant, --meters 2: exit %d, %q", r.code, r.stderr)
	}
	floodRows(t, out, n)
	r = runNFStream(t, nil, "-r", capFile, "-o", out, "--n-dissections", "0", "--max-active-flows", "0")
	if r.code != 0 || strings.Contains(r.stderr, "evicted") {
		t.Errorf("--max-active-flows 0: exit %d, %q", r.code, r.stderr)
	}
	if reasons := floodRows(t, out, n); reasons[0] != n {
		t.Errorf("--max-active-flows 0: rows by expiration id %v", reasons)
	}
	r = runNFStream(t, nil, "-r", capFile, "-o", out, "--max-active-flows", "-1")
	if r.code != 2 || !strings.Contains(r.stderr, "max-active-flows") {
		t.Errorf("--max-active-flows -1: exit %d, %q", r.code, r.stderr)
	}
}

var summaryPackets = regexp.MustCompile(`nfstream: (\d+) flows from (\d+) packets`)

// TestMaxFlowsStopsReading checks that --max-flows stops the reading, not
// only the writing: one-packet flows 1 s apart idle out one by one with
// --idle-timeout 1, so 10 flows are out after a few packets, and far fewer
// packets than the capture's are read, with one meter and with two. The
// summary says the limit stopped the run.
func TestMaxFlowsStopsReading(t *testing.T) {
	const n = 20_000
	capFile := writeFlood(t, n, time.Second)
	for _, meters := range []string{"1", "2"} {
		out := filepath.Join(t.TempDir(), "flows.csv")
		r := runNFStream(t, nil, "-r", capFile, "-o", out, "--n-dissections", "0", "--idle-timeout", "1", "--max-flows", "10", "--meters", meters)
		if r.code != 0 {
			t.Fatalf("--meters %s: exit %d: %s", meters, r.code, r.stderr)
		}
		m := summaryPackets.FindStringSubmatch(r.stderr)
		if m == nil || m[1] != "10" || !strings.Contains(r.stderr, "; stopped at --max-flows 10") {
			t.Fatalf("--meters %s: summary %q", meters, r.stderr)
		}
		if read, _ := strconv.Atoi(m[2]); read > n/10 {
			t.Errorf("--meters %s: %d of %d packets read for 10 flows", meters, read, n)
		}
		data, _ := os.ReadFile(out)
		if got := len(lines(string(data))) - 1; got != 10 {
			t.Errorf("--meters %s: %d flows written, want 10", meters, got)
		}
	}
	// A limit the capture does not reach says nothing.
	r := runNFStream(t, nil, "-r", capFile, "-o", filepath.Join(t.TempDir(), "all.csv"), "--n-dissections", "0", "--idle-timeout", "1", "--max-flows", strconv.Itoa(2*n))
	if r.code != 0 || strings.Contains(r.stderr, "stopped") {
		t.Errorf("unreached limit: exit %d, %q", r.code, r.stderr)
	}
}

// TestLiveEviction captures on the loopback device 1000 one-packet UDP
// flows (source ports 45000-45999) with --max-active-flows 100: 900 leave
// early with expiration id 2, counted as evicted by the Prometheus counter
// and the JSON report, and at SIGTERM every flow is in the output.
func TestLiveEviction(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture on lo needs root (CAP_NET_RAW)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out := filepath.Join(t.TempDir(), "flows.csv")
	cmd := exec.Command(nfstreamBin, "-i", "lo", "--meters", "1", "--n-dissections", "0", "-o", out,
		"--max-active-flows", "100", "--metrics-addr", addr, "udp dst port 40997")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	scrapeUntil(addr, 50)
	const n, limit = 1000, 100
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40997}
	for i := 0; i < n; i++ {
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 45000 + i}, dst)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("x"))
		c.Close()
	}
	want := fmt.Sprintf(`nfstream_flows_exported_total{reason="evicted"} %d`, n-limit)
	body := scrapeUntil(addr, 50, want)
	if !strings.Contains(body, want) {
		t.Errorf("metrics do not say %q:\n%s", want, body)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	ports := map[string]bool{}
	for _, row := range lines(string(data))[1:] {
		f := strings.SplitN(row, ",", 7)
		reasons[f[1]]++
		ports[f[5]] = true
	}
	if !strings.Contains(stderr.String(), fmt.Sprintf("(%d flows evicted early: active-flow limit %d)", n-limit, limit)) {
		t.Errorf("summary %q does not count the evictions", stderr.String())
	}
	if reasons["2"] != n-limit || reasons["0"] != limit || len(ports) != n {
		t.Errorf("rows by expiration id %v, %d source ports; want %d evicted, %d at the end, %d flows", reasons, len(ports), n-limit, limit, n)
	}
}

// TestLiveMaxFlows checks that a live capture ends by itself once
// --max-flows flows are out, with exactly that many written.
func TestLiveMaxFlows(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture on lo needs root (CAP_NET_RAW)")
	}
	out := filepath.Join(t.TempDir(), "flows.csv")
	cmd := exec.Command(nfstreamBin, "-i", "lo", "--meters", "2", "--n-dissections", "0", "-o", out,
		"--max-flows", "10", "--idle-timeout", "0", "udp dst port 40996")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	time.Sleep(time.Second) // the rings are up
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40996}
	for i := 0; i < 200; i++ {
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 46000 + i}, dst)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("x"))
		c.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			data, _ := os.ReadFile(out)
			if got := len(lines(string(data))) - 1; got != 10 {
				t.Errorf("%d flows written, want 10", got)
			}
			if !strings.Contains(stderr.String(), "; stopped at --max-flows 10") {
				t.Errorf("summary %q does not say the limit stopped the run", stderr.String())
			}
			return
		default:
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v: %s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still capturing after 200 flows with --max-flows 10: %s", stderr.String())
	}
	data, _ := os.ReadFile(out)
	if got := len(lines(string(data))) - 1; got != 10 {
		t.Errorf("%d flows written, want 10", got)
	}
}
