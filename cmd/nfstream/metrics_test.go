//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// freeAddr returns a local TCP address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestMetricsAddrError checks that a metrics address that cannot be
// listened on (a port the test holds) fails the run before any work, with
// the error on standard error only: standard output, which may carry the
// flows, stays empty, and no output file is created (exit status 1, a
// runtime failure: docs/cli.md).
func TestMetricsAddrError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := writeFile(t, "udp.pcap", udpCapture(t, 3))
	r := runNFStream(t, nil, "-r", p, "-o", "-", "--metrics-addr", ln.Addr().String())
	if r.code != exitFailure || r.stdout != "" || !strings.Contains(r.stderr, "--metrics-addr") {
		t.Errorf("status %d, stdout %q, stderr %q; want %d, nothing, the error naming --metrics-addr", r.code, r.stdout, r.stderr, exitFailure)
	}
	out := filepath.Join(t.TempDir(), "flows.csv")
	r = runNFStream(t, nil, "-r", p, "-o", out, "--metrics-addr", ln.Addr().String())
	if r.code != exitFailure || exists(out) {
		t.Errorf("status %d, output created %v; stderr %q", r.code, exists(out), r.stderr)
	}
}

// pipedCapture writes a pcap header and the packets of two phases to w:
// 1024 packets spread over 16 UDP flows, then, 100 s later, 1024 over 16
// other flows. With --idle-timeout 10 the first phase's flows expire at
// the second phase's first packet; the second phase's stay active.
func pipedCapture(t *testing.T, w io.Writer) {
	t.Helper()
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	srcMAC, dstMAC := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	start := time.Unix(1700000000, 0)
	for phase := 0; phase < 2; phase++ {
		for i := 0; i < 1024; i++ {
			src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 1}), uint16(1000+phase*100+i%16))
			dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 2}), 53)
			frame := udpEthernetFrame(srcMAC, dstMAC, src, dst, 10)
			ts := start.Add(time.Duration(phase)*100*time.Second + time.Duration(i)*time.Millisecond)
			ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame)}
			if err := pw.WritePacket(ci, frame); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestFileMetrics checks --metrics-addr and --report-interval on a run
// over files: the capture comes through a pipe the test holds open, and
// while the run waits on it the metrics and the report count every packet
// fed and the flows written so far; once the pipe is closed the summary
// counts the same packets, and every flow.
func TestFileMetrics(t *testing.T) {
	addr := freeAddr(t)
	out := filepath.Join(t.TempDir(), "flows.csv")
	cmd := exec.Command(nfstreamBin, "-r", "-", "-o", out, "--n-dissections", "0", "--idle-timeout", "10",
		"--metrics-addr", addr, "--report-interval", "1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, _ := cmd.StderrPipe()
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	pipedCapture(t, stdin)

	want := []string{
		"nfstream_packets_total 2048\n",
		"nfstream_packets_ignored_total 0\n",
		fmt.Sprintf("nfstream_bytes_total %d\n", 2048*udpFrame(10)),
		`nfstream_flows_exported_total{reason="idle"} 16` + "\n",
		`nfstream_flows_exported_total{reason="evicted"} 0` + "\n",
		"nfstream_active_flows 16\n",
		"nfstream_kernel_dropped_packets_total 0\n",
		"nfstream_sink_errors_total 0\n",
	}
	metrics := scrapeUntil(addr, 100, want...)
	for _, w := range want {
		if !strings.Contains(metrics, w) {
			t.Errorf("while the run waits on the pipe, metrics lack %q:\n%s", w, metrics)
		}
	}
	// A report comes every second: the next one counts the same.
	var report map[string]any
	deadline := time.After(5 * time.Second)
	for report == nil {
		select {
		case line := <-lines:
			if strings.HasPrefix(line, "{") {
				if err := json.Unmarshal([]byte(line), &report); err != nil {
					t.Fatalf("report %q: %v", line, err)
				}
			}
		case <-deadline:
			t.Fatal("no JSON report on standard error within 5s")
		}
	}
	if report["packets_processed"] != float64(2048) || report["flows_expired"] != float64(16) || report["packets_dropped_filtered_by_kernel"] != float64(0) {
		t.Errorf("report %v, want 2048 packets processed, 16 flows expired", report)
	}

	stdin.Close()
	var rest []string
	for line := range lines {
		rest = append(rest, line)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, strings.Join(rest, "\n"))
	}
	summary := regexp.MustCompile(`nfstream: (\d+) flows from (\d+) packets \(0 ignored\) written to`).FindStringSubmatch(strings.Join(rest, "\n"))
	if summary == nil || summary[1] != "32" || summary[2] != "2048" {
		t.Errorf("summary %q, want 32 flows from 2048 packets", rest)
	}
	if stdout.String() != "" {
		t.Errorf("standard output %q, want nothing (flows go to -o)", stdout.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Split(strings.TrimSpace(string(data)), "\n")) - 1; n != 32 {
		t.Errorf("%d flows written, want 32", n)
	}
}

// TestFlagsPerMode checks that a flag meaning nothing for the input given
// is refused as a usage error naming it, and that the limits shared with
// the stages appear in the messages.
func TestFlagsPerMode(t *testing.T) {
	p := writeFile(t, "udp.pcap", udpCapture(t, 1))
	out := filepath.Join(t.TempDir(), "flows.csv")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--snaplen", "100"}, "--snaplen applies to live capture (-i) only"},
		{[]string{"-s", "100"}, "--snaplen applies to live capture (-i) only"},
		{[]string{"--no-promisc"}, "--no-promisc applies to live capture (-i) only"},
		{[]string{"-B", "4096"}, "--buffer-size applies to live capture (-i) only"},
		{[]string{"--rotate", "500ms", "-o", filepath.Join(t.TempDir(), "f-%S.csv")}, "--rotate 500ms: must be at least 1s"},
		{[]string{"--row-group-rows", "0", "-o", filepath.Join(t.TempDir(), "f.parquet")}, "--row-group-rows 0: must be at least 1"},
		{[]string{"--splt", "70000"}, "--splt 70000: must be from 0 to 65535"},
		{[]string{"--n-dissections", "256"}, "--n-dissections 256: must be from 0 to 255"},
		{[]string{"--idle-timeout", "18446744073709552"}, "--idle-timeout 18446744073709552: must be a number of seconds from 0 to 18446744073709551"},
	} {
		r := runNFStream(t, nil, append([]string{"-r", p, "-o", out}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: status %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, exitUsage, tc.want)
		}
		if exists(out) {
			t.Fatalf("%v: output created", tc.args)
		}
	}
	// The defaults of the live-only flags, given as such, are no error;
	// nor are the metrics and reports with files.
	r := runNFStream(t, nil, "-r", p, "-o", out, "--report-interval", "1", "--metrics-addr", freeAddr(t))
	if r.code != 0 || !exists(out) {
		t.Errorf("--report-interval and --metrics-addr with -r: status %d, stderr %q", r.code, r.stderr)
	}
}
