//go:build cgo

package filter

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nfstream-go/nfstream/internal/capture"
)

// tcpdumpExprs are filters run over every capture of testdata/ by tcpdump
// and by Source (CompileFile and Filter): the two must keep the same
// records.
// They cover the protocols, encapsulations and link types of the corpus,
// the length primitives (len is the wire length, which differs from the
// captured length in snaplen_truncated.pcap) and loads that run off the
// end of short or truncated packets.
var tcpdumpExprs = []string{
	"tcp", "udp", "icmp", "icmp6", "ip", "ip6", "arp",
	"tcp port 443", "udp and not port 53", "tcp or udp",
	"vlan", "vlan and ip", "vlan 200", "vlan and vlan 20",
	"mpls", "mpls and ip", "pppoes", "pppoes and ip6",
	"ip[6:2] & 0x1fff != 0", "ip6 proto 44", "tcp[tcpflags] & tcp-syn != 0",
	"greater 100", "less 80", "len > 60 and len < 200",
	"net 10.0.0.0/8", "ip proto 47", "ether[0] & 1 = 1", "ip[100] = 0",
	"udp port 2152", "udp[8] = 0x30",
}

func TestAgainstTcpdump(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump is not installed (apt-get install tcpdump): it is the judge here")
	}
	files, _ := filepath.Glob("../../testdata/*.pcap*")
	if len(files) == 0 {
		t.Fatal("no captures in testdata/")
	}
	var total atomic.Int64
	t.Run("captures", func(t *testing.T) {
		for _, file := range files {
			t.Run(filepath.Base(file), func(t *testing.T) {
				t.Parallel()
				for _, expr := range tcpdumpExprs {
					want, wantErr := tcpdumpCount(tcpdump, file, expr)
					got, gotErr := ourCount(file, expr)
					switch {
					case wantErr != "" && gotErr == nil:
						t.Errorf("%s: tcpdump refuses it (%s), we kept %d records", expr, wantErr, got)
					case wantErr == "" && gotErr != nil:
						t.Errorf("%s: tcpdump keeps %d records, we fail: %v", expr, want, gotErr)
					case wantErr == "" && got != want:
						t.Errorf("%s: %d records, tcpdump keeps %d", expr, got, want)
					}
					total.Add(int64(got))
				}
			})
		}
	})
	if total.Load() == 0 {
		t.Error("no filter kept any record: the comparison proves nothing")
	}
	t.Logf("%d captures x %d expressions, %d records kept in all", len(files), len(tcpdumpExprs), total.Load())
}

// tcpdumpCount runs tcpdump -r file -w - expr and counts the records it
// writes. It returns tcpdump's message when it cannot compile expr.
func tcpdumpCount(tcpdump, file, expr string) (int, string) {
	cmd := exec.Command(tcpdump, "-r", file, "-w", "-", expr)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil && out.Len() == 0 {
		return 0, strings.TrimSpace(stderr.String())
	}
	src, err := capture.NewReader(&out, "tcpdump output")
	if err != nil {
		return 0, err.Error()
	}
	return count(src)
}

func ourCount(file, expr string) (int, error) {
	src, err := capture.Open(file)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	fsrc, err := Source(src, file, expr)
	if err != nil {
		return 0, err
	}
	n, msg := count(fsrc)
	if msg != "" {
		return n, errors.New(msg)
	}
	return n, nil
}

func count(src capture.Source) (int, string) {
	var p capture.Packet
	n := 0
	for {
		err := src.Next(&p)
		if err == io.EOF {
			return n, ""
		}
		if err != nil {
			return n, err.Error()
		}
		n++
	}
}
