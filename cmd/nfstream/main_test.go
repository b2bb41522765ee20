package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// binary under test, built once by TestMain.
var nfstreamBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nfstream-e2e")
	if err != nil {
		panic(err)
	}
	nfstreamBin = filepath.Join(dir, "nfstream")
	build := exec.Command("go", "build", "-o", nfstreamBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building nfstream: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func runNFStream(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	cmd := exec.Command(nfstreamBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// udpCapture writes, with gopacket's independent pcap writer, a capture of
// n UDP packets, each its own flow (source port 1000+i), one ms apart.
func udpCapture(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{10, 0, 0, 1}, DstIP: []byte{10, 0, 0, 2}}
		udp := &layers.UDP{SrcPort: layers.UDPPort(1000 + i), DstPort: 53}
		udp.SetNetworkLayerForChecksum(ip)
		sb := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, udp, gopacket.Payload([]byte("hello world"))); err != nil {
			t.Fatal(err)
		}
		data := sb.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, int64(i)*int64(time.Millisecond)), CaptureLength: len(data), Length: len(data)}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func lines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

func TestGoodCapture(t *testing.T) {
	p := writeFile(t, "udp.pcap", udpCapture(t, 3))
	r := runNFStream(t, nil, "-r", p)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := lines(r.stdout); len(got) != 4 || !strings.HasPrefix(got[0], "id,expiration_id,src_ip,") {
		t.Errorf("want a header and 3 flows, got %q", r.stdout)
	}
	// Standard input, and JSONL.
	r = runNFStream(t, udpCapture(t, 2), "-r", "-", "--format", "jsonl")
	if r.code != 0 || len(lines(r.stdout)) != 2 || !strings.HasPrefix(r.stdout, `{"id":0,`) {
		t.Errorf("stdin jsonl: exit %d, %q, %s", r.code, r.stdout, r.stderr)
	}
}

func TestMissingFile(t *testing.T) {
	r := runNFStream(t, nil, "-r", "/nonexistent/x.pcap")
	if r.code != 1 || !strings.Contains(r.stderr, `"/nonexistent/x.pcap"`) || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestNotACapture(t *testing.T) {
	for name, data := range map[string][]byte{
		"notes.txt":  []byte("this is a text file, not a capture\n"),
		"empty.pcap": nil,
	} {
		p := writeFile(t, name, data)
		r := runNFStream(t, nil, "-r", p)
		if r.code != 1 || !strings.Contains(r.stderr, p) || len(lines(r.stderr)) != 1 {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and one line naming the file", name, r.code, r.stderr)
		}
	}
}

// TestTruncatedCapture cuts a capture in the middle of its last record: the
// flows read before are written, the error names the file and the offset,
// and the exit status is 1.
func TestTruncatedCapture(t *testing.T) {
	data := udpCapture(t, 5)
	// A 24-byte file header, then 5 records of equal size: cut the 5th.
	rec := (len(data) - 24) / 5
	cut := 24 + 4*rec + 16 + 10
	p := writeFile(t, "cut.pcap", data[:cut])
	r := runNFStream(t, nil, "-r", p)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	if got := len(lines(r.stdout)) - 1; got != 4 {
		t.Errorf("%d flows written, want the 4 read before the cut:\n%s", got, r.stdout)
	}
	offset := "offset " + strconv.Itoa(24+4*rec)
	if !strings.Contains(r.stderr, p) || !strings.Contains(r.stderr, offset) {
		t.Errorf("stderr %q does not name the file and %q", r.stderr, offset)
	}
}

func TestUnsupportedLinkType(t *testing.T) {
	data := udpCapture(t, 1)
	binary.LittleEndian.PutUint32(data[20:24], 147) // LINKTYPE_USER0
	p := writeFile(t, "user0.pcap", data)
	r := runNFStream(t, nil, "-r", p)
	if r.code != 1 || !strings.Contains(r.stderr, p) || !strings.Contains(r.stderr, "link type 147") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestBadFlags checks that bad values are refused with status 2 before any
// work: no output file is created.
func TestBadFlags(t *testing.T) {
	p := writeFile(t, "udp.pcap", udpCapture(t, 1))
	out := filepath.Join(t.TempDir(), "flows.csv")
	for _, args := range [][]string{
		{"--idle-timeout", "-1"},
		{"--idle-timeout", "idle"},
		{"--active-timeout", "-5"},
		{"--accounting-mode", "5"},
		{"--accounting-mode", "bytes"},
		{"--n-dissections", "256"},
		{"--n-dissections", "-1"},
		{"--splt", "70000"},
		{"--splt", "-1"},
		{"--max-flows", "-1"},
		{"--format", "xml"},
		{"--no-such-flag"},
		{"-r", "-", "-r", "-"},
	} {
		r := runNFStream(t, nil, append([]string{"-r", p, "-o", out}, args...)...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, strings.TrimLeft(args[0], "-")) {
			t.Errorf("%v: stderr %q does not name the flag", args, r.stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v: output file created before the flags were checked", args)
		}
	}
	if r := runNFStream(t, nil); r.code != 2 {
		t.Errorf("no input: exit %d, want 2", r.code)
	}
}
