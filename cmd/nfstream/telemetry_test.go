package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReportAndMetrics captures on the loopback device while the test
// sends UDP datagrams to itself (127.0.0.1 only), and checks the JSON
// performance report and the Prometheus metrics count them, and that
// SIGTERM ends the run with every flow written.
func TestReportAndMetrics(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture on lo needs root (CAP_NET_RAW)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // find a free port for the metrics
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out := filepath.Join(t.TempDir(), "flows.csv")
	cmd := exec.Command(nfstreamBin, "-i", "lo", "--n-dissections", "0", "-o", out,
		"--report-interval", "1", "--metrics-addr", addr, "udp port 40998")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reports := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			reports <- sc.Text()
		}
		close(reports)
	}()
	// Wait for the metrics endpoint: the capture is set up by then.
	if scrapeUntil(addr, 50) == "" {
		cmd.Process.Kill()
		t.Fatal("metrics endpoint never answered")
	}
	recv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40998})
	if err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	defer recv.Close()
	send, err := net.DialUDP("udp", nil, recv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	const n = 20
	for i := 0; i < n; i++ {
		fmt.Fprintf(send, "datagram %02d", i) // 11 bytes: frames of 14+20+8+11 = 53
	}
	send.Close()
	// The active-flow gauge is refreshed when the link goes quiet.
	metrics := scrapeUntil(addr, 30, fmt.Sprintf("nfstream_packets_total %d\n", n), "nfstream_active_flows 1\n")
	for _, want := range []string{
		fmt.Sprintf("nfstream_packets_total %d\n", n),
		fmt.Sprintf("nfstream_bytes_total %d\n", n*53),
		"nfstream_active_flows 1\n",
		"nfstream_kernel_dropped_packets_total 0\n",
		`nfstream_flows_exported_total{reason="idle"} 0` + "\n",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
	time.Sleep(1100 * time.Millisecond) // one more report
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	if err != nil {
		t.Errorf("after SIGTERM: %v, want exit status 0", err)
	}
	var last map[string]any
	var summary string
	for line := range reports {
		if strings.HasPrefix(line, "{") {
			last = nil
			if err := json.Unmarshal([]byte(line), &last); err != nil {
				t.Errorf("report %q: %v", line, err)
			}
		} else {
			summary += line
		}
	}
	if last == nil || last["packets_processed"] != float64(n) || len(last["meters_packets_processing_balance"].([]any)) < 1 {
		t.Errorf("last report %v, want %d packets processed", last, n)
	}
	for _, k := range []string{"flows_expired", "packets_ignored", "packets_dropped_filtered_by_kernel"} {
		if _, ok := last[k]; !ok {
			t.Errorf("report lacks NFStream's field %s", k)
		}
	}
	if !strings.Contains(summary, "0 dropped") {
		t.Errorf("summary %q", summary)
	}
	b, _ := os.ReadFile(out)
	if rows := lines(string(b)); len(rows) != 2 || !strings.Contains(rows[1], fmt.Sprintf(",%d,%d,", n, n*53)) {
		t.Errorf("flows written after SIGTERM:\n%s", b)
	}
}

// scrapeUntil fetches http://addr/metrics every 100 ms, at most tries
// times, until the text holds every one of want (with none, until the
// endpoint answers), and returns the last text: "" if it never answered.
func scrapeUntil(addr string, tries int, want ...string) string {
	var text string
	for i := 0; i < tries; i++ {
		time.Sleep(100 * time.Millisecond)
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text = string(b)
		all := true
		for _, w := range want {
			all = all && strings.Contains(text, w)
		}
		if all {
			return text
		}
	}
	return text
}
