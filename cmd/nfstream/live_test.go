//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/testing/netns"
)

// Live end-to-end tests of the binary. Each test makes two network
// namespaces, A and B, joined by a veth pair, with addresses only they
// use; nfstream runs inside B (ip netns exec) and captures on B's end,
// while the test exchanges known traffic between the namespaces. IPv6 is
// off and the neighbours are static, so the link carries nothing but the
// test's packets and the flows nfstream writes can be compared with what
// was sent, packet for packet and byte for byte. They need root (network
// namespaces, packet sockets) and iproute2.

// vethNet is the two namespaces and the veth pair between them (package
// netns), and ifB's index inside B.
type vethNet struct {
	*netns.Pair
	ifindexB int
}

// newVethNet makes the namespaces and the link in 10.200.100-199.0/24,
// apart from the capture tests' subnets, and removes them when the test
// ends; it skips the test without root or the ip command.
func newVethNet(t *testing.T) *vethNet {
	t.Helper()
	v := &vethNet{Pair: netns.NewPair(t, netns.Layout{Prefix: "nfs-live", IfPrefix: "lv", Subnet: 100, Subnets: 100})}
	v.ifindexB = v.linkB(t).Ifindex
	return v
}

// linkB returns ifB's index and counters. Its TX counters are the packets
// from B to A, its RX counters those from A to B; veth counts each frame's
// length on the wire.
func (v *vethNet) linkB(t *testing.T) netns.Link {
	t.Helper()
	return v.LinkStats(t, v.B.NS, v.B.If)
}

// liveRun is nfstream capturing on ifB inside namespace B.
type liveRun struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{}
	err    error // of Wait, once done is closed
}

// startLive starts nfstream -i ifB with the arguments and returns once its
// rings are bound to the interface, so the test's traffic is captured
// from the first packet.
func (v *vethNet) startLive(t *testing.T, stdout io.Writer, meters int, args ...string) *liveRun {
	t.Helper()
	return v.startOn(t, stdout, v.B.If, v.ifindexB, meters, args...)
}

// startLiveOn starts nfstream with one meter on B's loopback interface
// (index 1 in a new namespace).
func (v *vethNet) startLiveOn(t *testing.T, iface string, args ...string) *liveRun {
	t.Helper()
	return v.startOn(t, nil, iface, 1, 1, args...)
}

func (v *vethNet) startOn(t *testing.T, stdout io.Writer, iface string, ifindex, meters int, args ...string) *liveRun {
	t.Helper()
	argv := append([]string{nfstreamBin, "-i", iface, "--meters", strconv.Itoa(meters)}, args...)
	r := &liveRun{cmd: v.Command(v.B.NS, argv...), done: make(chan struct{})}
	r.cmd.Stdout, r.cmd.Stderr = stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		<-r.done
	})
	deadline := time.Now().Add(20 * time.Second)
	for v.boundRings(r.cmd.Process.Pid, ifindex) < meters {
		select {
		case <-r.done:
			t.Fatalf("nfstream %s: exited before capturing: %v\n%s", strings.Join(args, " "), r.err, r.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nfstream has not bound %d rings to %s after 20s", meters, iface)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The rings are bound, then join the fanout group and get their real
	// filter in the next microseconds.
	time.Sleep(100 * time.Millisecond)
	return r
}

// boundRings counts the packet sockets of process pid bound to interface
// ifindex, from
// /proc/PID/net/packet (the process's namespace), once the process is
// nfstream itself (ip netns exec has exec'd it).
func (v *vethNet) boundRings(pid, ifindex int) int {
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || exe != nfstreamBin {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/packet", pid))
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n")[1:] {
		// sk RefCnt Type Proto Iface R Rmem User Inode
		f := strings.Fields(line)
		if len(f) >= 6 && f[3] == "0003" && f[4] == strconv.Itoa(ifindex) && f[5] == "1" {
			n++
		}
	}
	return n
}

// signal sends sig to nfstream.
func (r *liveRun) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait waits for nfstream to exit and returns its status (exitStatus:
// minus the signal number when a signal killed it).
func (r *liveRun) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
		return exitStatus(r.err)
	case <-time.After(limit):
		r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("nfstream still running %v after the signal; stderr:\n%s", limit, r.stderr.String())
		return 0
	}
}

// summary is nfstream's last line on standard error after a live capture.
var summaryLine = regexp.MustCompile(`nfstream: (\d+) packets captured on "([^"]+)" \((\d+) dropped by the kernel\), (\d+) ignored; (\d+) flows written`)

type liveSummary struct {
	captured, dropped, ignored, flows uint64
}

func (r *liveRun) summary(t *testing.T, iface string) liveSummary {
	t.Helper()
	m := summaryLine.FindStringSubmatch(r.stderr.String())
	if m == nil || m[2] != iface {
		t.Fatalf("no capture summary for %q on stderr:\n%s", iface, r.stderr.String())
	}
	num := func(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }
	return liveSummary{captured: num(m[1]), dropped: num(m[3]), ignored: num(m[4]), flows: num(m[5])}
}

// wireFlow is what a flow carried in each direction; src is the sender of
// its first packet. Bytes are frame lengths on the wire (Ethernet header
// included, no FCS), which is what nfstream counts in link accounting.
type wireFlow struct {
	s2dPackets, s2dBytes uint64
	d2sPackets, d2sBytes uint64
}

func (f *wireFlow) add(fromSrc bool, frameLen int) {
	if fromSrc {
		f.s2dPackets++
		f.s2dBytes += uint64(frameLen)
	} else {
		f.d2sPackets++
		f.d2sBytes += uint64(frameLen)
	}
}

func (f wireFlow) packets() uint64 { return f.s2dPackets + f.d2sPackets }

// flowName names a flow by protocol and its first packet's addresses, as
// nfstream's src and dst columns do.
func flowName(proto int, src, dst netip.AddrPort) string {
	return fmt.Sprintf("%d %v > %v", proto, src, dst)
}

// Frame lengths for IPv4 over Ethernet without options: 14 + 20 + the
// transport header (8 for UDP and ICMP echo) + payload.
func udpFrame(payload int) int  { return 42 + payload }
func icmpFrame(payload int) int { return 42 + payload }

// flowRow is one output flow: its name and counters.
type flowRow struct {
	name string
	wire wireFlow
	bi   [2]uint64 // bidirectional_packets, bidirectional_bytes
}

// liveRows reads the flows of a CSV, JSONL or Parquet file completely; a
// truncated or malformed file fails the test.
func liveRows(t *testing.T, path string) []flowRow {
	t.Helper()
	var header []string
	var rows [][]string
	switch {
	case strings.HasSuffix(path, ".csv"):
		header, rows = csvTable(t, path)
	case strings.HasSuffix(path, ".jsonl"):
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			t.Fatalf("%s: does not end with a complete line", path)
		}
		header = []string{"src_ip", "src_port", "dst_ip", "dst_port", "protocol", "bidirectional_packets",
			"bidirectional_bytes", "src2dst_packets", "src2dst_bytes", "dst2src_packets", "dst2src_bytes"}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
				t.Fatalf("%s: %v: %s", path, err, sc.Text())
			}
			row := make([]string, len(header))
			for i, h := range header {
				raw, ok := obj[h]
				if !ok {
					t.Fatalf("%s: no %s in %s", path, h, sc.Text())
				}
				row[i] = strings.Trim(string(raw), `"`)
			}
			rows = append(rows, row)
		}
	case strings.HasSuffix(path, ".parquet"):
		tbl := readParquet(t, path)
		for i := 0; i < int(tbl.NumCols()); i++ {
			header = append(header, tbl.Schema().Field(i).Name)
		}
		rows = make([][]string, tbl.NumRows())
		for i := range rows {
			rows[i] = make([]string, len(header))
		}
		for c := range header {
			r := 0
			for _, chunk := range tbl.Column(c).Data().Chunks() {
				for k := 0; k < chunk.Len(); k++ {
					rows[r][c] = chunk.ValueStr(k)
					r++
				}
			}
		}
	default:
		t.Fatalf("%s: unknown format", path)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	var flows []flowRow
	for _, r := range rows {
		get := func(name string) string {
			i, ok := col[name]
			if !ok {
				t.Fatalf("%s: no column %s in %v", path, name, header)
			}
			return r[i]
		}
		num := func(name string) uint64 {
			n, err := strconv.ParseUint(get(name), 10, 64)
			if err != nil {
				t.Fatalf("%s: %s: %v", path, name, err)
			}
			return n
		}
		addr := func(ipCol, portCol string) netip.AddrPort {
			a, err := netip.ParseAddr(get(ipCol))
			if err != nil {
				t.Fatalf("%s: %s: %v", path, ipCol, err)
			}
			return netip.AddrPortFrom(a, uint16(num(portCol)))
		}
		flows = append(flows, flowRow{
			name: flowName(int(num("protocol")), addr("src_ip", "src_port"), addr("dst_ip", "dst_port")),
			wire: wireFlow{num("src2dst_packets"), num("src2dst_bytes"), num("dst2src_packets"), num("dst2src_bytes")},
			bi:   [2]uint64{num("bidirectional_packets"), num("bidirectional_bytes")},
		})
	}
	return flows
}

// checkRows checks every output flow against the flows sent: no flow
// twice, none unknown, each direction's packets and bytes exact when
// exact is set (else at most what was sent), and the bidirectional
// counters the sums. It returns the flows found and their packets.
func checkRows(t *testing.T, rows []flowRow, sent map[string]wireFlow, exact bool) (found map[string]bool, packets uint64) {
	t.Helper()
	found = map[string]bool{}
	for _, r := range rows {
		w, ok := sent[r.name]
		switch {
		case found[r.name]:
			t.Errorf("flow %s written twice", r.name)
		case !ok:
			t.Errorf("flow %s written, never sent", r.name)
		case exact && r.wire != w:
			t.Errorf("flow %s: written %+v, sent %+v", r.name, r.wire, w)
		case !exact && (r.wire.s2dPackets > w.s2dPackets || r.wire.d2sPackets > w.d2sPackets || r.wire.s2dBytes > w.s2dBytes || r.wire.d2sBytes > w.d2sBytes):
			t.Errorf("flow %s: written %+v, more than sent %+v", r.name, r.wire, w)
		}
		if r.bi != [2]uint64{r.wire.packets(), r.wire.s2dBytes + r.wire.d2sBytes} {
			t.Errorf("flow %s: bidirectional %v, directions %+v", r.name, r.bi, r.wire)
		}
		found[r.name] = true
		packets += r.bi[0]
	}
	return found, packets
}

// exchange sends known traffic between the namespaces and returns it by
// flow: UDP flows opened from both sides (asymmetric sizes and counts, one
// with 1400-byte datagrams), ICMP echo both ways, and two TCP connections
// (one each way) with data both ways. UDP and ICMP frame lengths follow
// from the payloads; TCP's segments (ACKs, FINs) are the kernel's choice,
// so each connection runs alone and ifB's counters measure it.
func (v *vethNet) exchange(t *testing.T) map[string]wireFlow {
	t.Helper()
	sent := map[string]wireFlow{}
	a, b := v.A.Addr, v.B.Addr

	// UDP: flows 0-3 from B, 4-5 from A. Each round the client sends one
	// datagram; the server answers once, or twice on odd flows.
	for i := 0; i < 6; i++ {
		clientNS, serverNS, client, server := v.B.NS, v.A.NS, b, a
		if i >= 4 {
			clientNS, serverNS, client, server = v.A.NS, v.B.NS, a, b
		}
		cAddr, sAddr := netip.AddrPortFrom(client, uint16(40000+i)), netip.AddrPortFrom(server, uint16(5000+i))
		req, resp, rounds, answers := 60+37*i, 200-11*i, 2+i%3, 1+i%2
		if i == 1 {
			req = 1400
		}
		var cc, sc *net.UDPConn
		netns.Do(t, serverNS, func() (err error) {
			sc, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(sAddr))
			return err
		})
		netns.Do(t, clientNS, func() (err error) {
			cc, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(cAddr), net.UDPAddrFromAddrPort(sAddr))
			return err
		})
		var f wireFlow
		buf := make([]byte, 2048)
		for r := 0; r < rounds; r++ {
			if _, err := cc.Write(make([]byte, req)); err != nil {
				t.Fatal(err)
			}
			f.add(true, udpFrame(req))
			sc.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, from, err := sc.ReadFromUDPAddrPort(buf)
			if err != nil || n != req {
				t.Fatalf("udp server %v: %d bytes, %v", sAddr, n, err)
			}
			for k := 0; k < answers; k++ {
				if _, err := sc.WriteToUDPAddrPort(make([]byte, resp), from); err != nil {
					t.Fatal(err)
				}
				f.add(false, udpFrame(resp))
				cc.SetReadDeadline(time.Now().Add(5 * time.Second))
				if n, err := cc.Read(buf); err != nil || n != resp {
					t.Fatalf("udp client %v: %d bytes, %v", cAddr, n, err)
				}
			}
		}
		cc.Close()
		sc.Close()
		sent[flowName(17, cAddr, sAddr)] = f
	}

	// ICMP echo: B pings A three times, then A pings B twice; the kernels
	// answer. ICMP has no ports: it is one flow, from B.
	var icmp wireFlow
	for _, p := range []struct {
		ns       string
		src, dst netip.Addr
		count    int
		payload  int
		fromB    bool
	}{{v.B.NS, b, a, 3, 32, true}, {v.A.NS, a, b, 2, 56, false}} {
		var c net.PacketConn
		netns.Do(t, p.ns, func() (err error) {
			c, err = net.ListenPacket("ip4:icmp", p.src.String())
			return err
		})
		id := uint16(0x6e00 + p.payload)
		for s := 0; s < p.count; s++ {
			echo := make([]byte, 8+p.payload)
			echo[0] = 8 // echo request
			binary.BigEndian.PutUint16(echo[4:], id)
			binary.BigEndian.PutUint16(echo[6:], uint16(s))
			binary.BigEndian.PutUint16(echo[2:], netns.Checksum(echo))
			if _, err := c.WriteTo(echo, &net.IPAddr{IP: p.dst.AsSlice()}); err != nil {
				t.Fatal(err)
			}
			icmp.add(p.fromB, icmpFrame(p.payload))  // the request
			icmp.add(!p.fromB, icmpFrame(p.payload)) // the reply
			buf := make([]byte, 1500)
			for {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, _, err := c.ReadFrom(buf)
				if err != nil {
					t.Fatalf("icmp echo reply: %v", err)
				}
				if n == len(echo) && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == id && binary.BigEndian.Uint16(buf[6:]) == uint16(s) {
					break
				}
			}
		}
		c.Close()
	}
	sent[flowName(1, netip.AddrPortFrom(b, 0), netip.AddrPortFrom(a, 0))] = icmp

	// TCP: B connects to A, then A to B; requests and answers of known
	// sizes, then the client closes and the server closes.
	for i, c := range []struct {
		clientNS, serverNS string
		client, server     netip.AddrPort
		fromB              bool
		req, resp, rounds  int
	}{
		{v.B.NS, v.A.NS, netip.AddrPortFrom(b, 43000), netip.AddrPortFrom(a, 7000), true, 100, 300, 3},
		{v.A.NS, v.B.NS, netip.AddrPortFrom(a, 43001), netip.AddrPortFrom(b, 7001), false, 1000, 50, 2},
	} {
		before := v.linkB(t)
		var ln *net.TCPListener
		netns.Do(t, c.serverNS, func() (err error) {
			ln, err = net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(c.server))
			return err
		})
		served := make(chan error, 1)
		go func() {
			conn, err := ln.AcceptTCP()
			ln.Close()
			if err != nil {
				served <- err
				return
			}
			defer conn.Close()
			buf := make([]byte, c.req)
			for r := 0; r < c.rounds; r++ {
				if _, err := io.ReadFull(conn, buf); err != nil {
					served <- err
					return
				}
				if _, err := conn.Write(make([]byte, c.resp)); err != nil {
					served <- err
					return
				}
			}
			if n, err := conn.Read(buf); n != 0 || err != io.EOF { // the client's FIN
				served <- fmt.Errorf("tcp server: %d bytes, %v after the last request", n, err)
				return
			}
			served <- nil
		}()
		var conn net.Conn
		netns.Do(t, c.clientNS, func() (err error) {
			d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(c.client)}
			conn, err = d.Dial("tcp4", c.server.String())
			return err
		})
		buf := make([]byte, c.resp)
		for r := 0; r < c.rounds; r++ {
			if _, err := conn.Write(make([]byte, c.req)); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(conn, buf); err != nil {
				t.Fatal(err)
			}
		}
		conn.Close()
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // the last ACK
		after := v.linkB(t)
		fromB := wireFlow{after.Stats.TX.Packets - before.Stats.TX.Packets, after.Stats.TX.Bytes - before.Stats.TX.Bytes,
			after.Stats.RX.Packets - before.Stats.RX.Packets, after.Stats.RX.Bytes - before.Stats.RX.Bytes}
		f := fromB
		if !c.fromB {
			f = wireFlow{fromB.d2sPackets, fromB.d2sBytes, fromB.s2dPackets, fromB.s2dBytes}
		}
		// Handshake, data, FIN and ACKs: at least this many each way.
		if f.s2dPackets < uint64(c.rounds+3) || f.d2sPackets < uint64(c.rounds+2) ||
			f.s2dBytes < uint64(c.rounds*(c.req+54)) || f.d2sBytes < uint64(c.rounds*(c.resp+54)) {
			t.Fatalf("tcp connection %d: ifB counted %+v: too little for the exchange", i, f)
		}
		sent[flowName(6, c.client, c.server)] = f
	}
	return sent
}

// TestLiveFlows captures known TCP, UDP and ICMP traffic with one meter
// and with two, and ends the capture with SIGTERM: exit status 0, every
// flow written exactly once with the packets and bytes sent in each
// direction, every packet on the link captured, none dropped.
func TestLiveFlows(t *testing.T) {
	for _, c := range []struct {
		meters int
		out    string
	}{{1, "flows.csv"}, {2, "flows.csv"}, {2, "flows.jsonl"}} {
		t.Run(fmt.Sprintf("%d meters %s", c.meters, c.out), func(t *testing.T) {
			v := newVethNet(t)
			out := filepath.Join(t.TempDir(), c.out)
			r := v.startLive(t, nil, c.meters, "--n-dissections", "0", "-o", out)
			before := v.linkB(t)
			sent := v.exchange(t)
			after := v.linkB(t)
			onLink := after.Stats.RX.Packets + after.Stats.TX.Packets - before.Stats.RX.Packets - before.Stats.TX.Packets
			var want, wantBytes uint64
			for _, f := range sent {
				want += f.packets()
				wantBytes += f.s2dBytes + f.d2sBytes
			}
			// Nothing but the test's packets crossed the link, and the
			// UDP and ICMP frames have the lengths computed.
			if onBytes := after.Stats.RX.Bytes + after.Stats.TX.Bytes - before.Stats.RX.Bytes - before.Stats.TX.Bytes; onLink != want || onBytes != wantBytes {
				t.Fatalf("ifB counted %d packets, %d bytes; the flows sent add up to %d, %d", onLink, onBytes, want, wantBytes)
			}

			r.signal(t, syscall.SIGTERM)
			if st := r.wait(t, 30*time.Second); st != 0 {
				t.Fatalf("exit status %d after SIGTERM, want 0; stderr:\n%s", st, r.stderr.String())
			}
			sum := r.summary(t, v.B.If)
			if sum.captured != want || sum.dropped != 0 || sum.ignored != 0 || sum.flows != uint64(len(sent)) {
				t.Errorf("summary %+v: want %d packets captured, 0 dropped, 0 ignored, %d flows", sum, want, len(sent))
			}
			rows := liveRows(t, out)
			found, packets := checkRows(t, rows, sent, true)
			for name := range sent {
				if !found[name] {
					t.Errorf("flow %s sent, not written", name)
				}
			}
			if packets != want {
				t.Errorf("the flows written hold %d packets; %d were sent", packets, want)
			}
			t.Logf("%d flows, %d packets; %s", len(rows), packets, strings.TrimSpace(r.stderr.String()))
		})
	}
}

// udpPinger exchanges UDP flows from B to a server in A until stopped:
// flow i is from B's port 20000+i, two requests each answered once. It
// counts the flows whose last answer came back: all their packets went
// past a capture on ifB before that.
type udpPinger struct {
	v         *vethNet
	stop      atomic.Bool
	started   atomic.Int64 // flows whose first request went out
	confirmed atomic.Int64 // flows complete
	errc      <-chan error
	server    *net.UDPConn
}

const (
	pingerServerPort = 9000
	pingerFirstPort  = 20000
	pingerMaxFlows   = 40000
	pingerRequest    = 70
	pingerAnswer     = 130
)

func (v *vethNet) startPinger(t *testing.T) *udpPinger {
	t.Helper()
	p := &udpPinger{v: v}
	server := netip.AddrPortFrom(v.A.Addr, pingerServerPort)
	netns.Do(t, v.A.NS, func() (err error) {
		p.server, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(server))
		return err
	})
	go func() {
		buf := make([]byte, 2048)
		answer := make([]byte, pingerAnswer)
		for {
			_, from, err := p.server.ReadFromUDPAddrPort(buf)
			if err != nil {
				return // closed
			}
			p.server.WriteToUDPAddrPort(answer, from)
		}
	}()
	// The client goroutine stays in B: the sockets it opens are B's.
	p.errc = netns.Go(v.B.NS, func() error {
		buf := make([]byte, 2048)
		req := make([]byte, pingerRequest)
		for i := 0; i < pingerMaxFlows && !p.stop.Load(); i++ {
			c, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(v.B.Addr, uint16(pingerFirstPort+i))),
				net.UDPAddrFromAddrPort(server))
			if err != nil {
				return err
			}
			p.started.Store(int64(i + 1))
			for k := 0; k < 2; k++ {
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write(req); err != nil {
					c.Close()
					return err
				}
				if n, err := c.Read(buf); err != nil || n != pingerAnswer {
					c.Close()
					return fmt.Errorf("flow %d: answer of %d bytes, %v", i, n, err)
				}
			}
			c.Close()
			p.confirmed.Store(int64(i + 1))
		}
		return nil
	})
	return p
}

// end stops the client and the server and returns the number of flows
// started.
func (p *udpPinger) end(t *testing.T) int {
	t.Helper()
	p.stop.Store(true)
	if err := <-p.errc; err != nil {
		t.Error(err)
	}
	p.server.Close()
	return int(p.started.Load())
}

// flows returns the pinger's first n flows, complete.
func (p *udpPinger) flows(n int) map[string]wireFlow {
	sent := map[string]wireFlow{}
	server := netip.AddrPortFrom(p.v.A.Addr, pingerServerPort)
	for i := 0; i < n; i++ {
		f := wireFlow{2, 2 * uint64(udpFrame(pingerRequest)), 2, 2 * uint64(udpFrame(pingerAnswer))}
		sent[flowName(17, netip.AddrPortFrom(p.v.B.Addr, uint16(pingerFirstPort+i)), server)] = f
	}
	return sent
}

// TestLiveSIGTERMMidCapture sends SIGTERM while UDP flows are being
// exchanged: nfstream exits with status 0 and writes a complete file in
// which every flow finished before the signal is present with all its
// packets, later flows at most once and with at most what was sent, and
// as many packets as it says it captured, none dropped.
func TestLiveSIGTERMMidCapture(t *testing.T) {
	for _, c := range []struct {
		meters int
		out    string
	}{{1, "flows.csv"}, {2, "flows.parquet"}} {
		t.Run(fmt.Sprintf("%d meters %s", c.meters, c.out), func(t *testing.T) {
			v := newVethNet(t)
			out := filepath.Join(t.TempDir(), c.out)
			r := v.startLive(t, nil, c.meters, "--n-dissections", "0", "-o", out)
			p := v.startPinger(t)
			deadline := time.Now().Add(20 * time.Second)
			for p.confirmed.Load() < 300 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			done := int(p.confirmed.Load()) // complete before the signal
			r.signal(t, syscall.SIGTERM)
			st := r.wait(t, 30*time.Second) // the flows go on meanwhile
			started := p.end(t)
			if st != 0 {
				t.Fatalf("exit status %d after SIGTERM, want 0; stderr:\n%s", st, r.stderr.String())
			}
			if done < 300 {
				t.Fatalf("only %d flows in 20 s", done)
			}
			sum := r.summary(t, v.B.If)
			rows := liveRows(t, out)
			found, packets := checkRows(t, rows, p.flows(started), false)
			complete := p.flows(done)
			for _, row := range rows {
				if w, ok := complete[row.name]; ok && row.wire != w {
					t.Errorf("flow %s complete before SIGTERM: written %+v, sent %+v", row.name, row.wire, w)
				}
			}
			missing := 0
			for name := range complete {
				if !found[name] {
					missing++
				}
			}
			if missing > 0 {
				t.Errorf("%d of the %d flows complete before SIGTERM are not in the output", missing, done)
			}
			if sum.dropped != 0 || sum.captured != packets || sum.flows != uint64(len(rows)) {
				t.Errorf("summary %+v; the output has %d flows with %d packets", sum, len(rows), packets)
			}
			t.Logf("%d flows complete at SIGTERM, %d started by the exit; %d written", done, started, len(rows))
		})
	}
}

// TestLiveSecondSignal: the first SIGTERM starts writing every flow, the
// second ends the process at once with status 130. The flows go to a
// pipe the test stops reading, so the graceful exit cannot finish before
// the second signal.
func TestLiveSecondSignal(t *testing.T) {
	v := newVethNet(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	r := v.startLive(t, pw, 1, "--n-dissections", "0", "-o", "-")
	pw.Close()

	// 3000 one-packet UDP flows from A to a socket in B that never reads
	// (so B answers nothing), written whole from a packet socket in A.
	var sink *net.UDPConn
	netns.Do(t, v.B.NS, func() (err error) {
		sink, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(v.B.Addr, 9999)))
		return err
	})
	defer sink.Close()
	const flows = 3000
	frames := make([][]byte, flows)
	for i := range frames {
		frames[i] = udpEthernetFrame(v.A.MAC, v.B.MAC, netip.AddrPortFrom(v.A.Addr, uint16(10000+i)), netip.AddrPortFrom(v.B.Addr, 9999), 18)
	}
	netns.Inject(t, v.A.NS, v.A.If, v.B.MAC, frames)

	r.signal(t, syscall.SIGTERM)
	// Flows coming out show that the first signal was taken; then stop
	// reading: the pipe fills and nfstream blocks writing.
	head := make([]byte, 16<<10)
	pr.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(pr, head); err != nil {
		t.Fatalf("no flows on standard output after SIGTERM: %v; stderr:\n%s", err, r.stderr.String())
	}
	if !bytes.HasPrefix(head, []byte("id,")) {
		t.Errorf("standard output starts %q", head[:min(len(head), 40)])
	}
	time.Sleep(200 * time.Millisecond)
	select {
	case <-r.done:
		t.Fatalf("nfstream finished writing %d flows into an unread pipe: the test cannot block it (status %d)", flows, exitStatus(r.err))
	default:
	}
	r.signal(t, syscall.SIGTERM)
	if st := r.wait(t, 10*time.Second); st != exitInterrupted {
		t.Fatalf("status %d after a second SIGTERM, want %d; stderr:\n%s", st, exitInterrupted, r.stderr.String())
	}
	if summaryLine.MatchString(r.stderr.String()) {
		t.Errorf("aborted, yet printed the summary: %s", r.stderr.String())
	}
}

// udpEthernetFrame builds an Ethernet/IPv4/UDP frame with a zero payload
// of the given size (UDP checksum 0: none, valid over IPv4).
func udpEthernetFrame(srcMAC, dstMAC net.HardwareAddr, src, dst netip.AddrPort, payload int) []byte {
	b := slices.Concat([]byte(dstMAC), []byte(srcMAC), []byte{0x08, 0x00})
	ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+payload))
	ip = append(append(ip, src.Addr().AsSlice()...), dst.Addr().AsSlice()...)
	binary.BigEndian.PutUint16(ip[10:], netns.Checksum(ip))
	b = append(b, ip...)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	b = binary.BigEndian.AppendUint16(b, dst.Port())
	b = binary.BigEndian.AppendUint16(b, uint16(8+payload))
	b = append(b, 0, 0)
	return append(b, make([]byte, payload)...)
}
