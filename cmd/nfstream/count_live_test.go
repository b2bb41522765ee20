//go:build linux

package main

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/testing/netns"
)

// TestLiveCount checks -c live: with two rings, nfstream takes exactly N
// packets across them, then ends by itself with status 0, its summary
// saying N packets, and writes every flow of those packets (and of no
// other: the packets the rings still held are not metered).
func TestLiveCount(t *testing.T) {
	v := newVethNet(t)
	out := filepath.Join(t.TempDir(), "flows.csv")
	const n = 25
	r := v.startLive(t, nil, 2, "--n-dissections", "0", "-o", out, "-c", "25")

	// 40 UDP flows of 2 packets from A to a socket in B that never reads
	// (so B answers nothing): 80 packets, more than -c.
	var sink *net.UDPConn
	netns.Do(t, v.B.NS, func() (err error) {
		sink, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(v.B.Addr, 9999)))
		return err
	})
	defer sink.Close()
	const flows, payload = 40, 18
	sent := map[string]wireFlow{}
	var frames [][]byte
	for i := 0; i < flows; i++ {
		src, dst := netip.AddrPortFrom(v.A.Addr, uint16(20000+i)), netip.AddrPortFrom(v.B.Addr, 9999)
		w := sent[flowName(17, src, dst)]
		for k := 0; k < 2; k++ {
			frames = append(frames, udpEthernetFrame(v.A.MAC, v.B.MAC, src, dst, payload))
			w.add(true, udpFrame(payload))
		}
		sent[flowName(17, src, dst)] = w
	}
	netns.Inject(t, v.A.NS, v.A.If, v.B.MAC, frames)

	if st := r.wait(t, 20*time.Second); st != 0 {
		t.Fatalf("status %d after -c %d, want 0; stderr:\n%s", st, n, r.stderr.String())
	}
	sum := r.summary(t, v.B.If)
	if sum.captured != n || sum.ignored != 0 {
		t.Errorf("summary %+v, want %d packets captured", sum, n)
	}
	if !strings.Contains(r.stderr.String(), "; stopped at -c 25 packets") {
		t.Errorf("summary does not say -c stopped the run:\n%s", r.stderr.String())
	}
	rows := liveRows(t, out)
	_, packets := checkRows(t, rows, sent, false)
	if packets != n || sum.flows != uint64(len(rows)) {
		t.Errorf("%d flows with %d packets written, summary %+v; want the flows of exactly %d packets", len(rows), packets, sum, n)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}
