//go:build linux

package capture_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/bpf"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/filter"
	"github.com/nfstream-go/nfstream/internal/testing/netns"
)

// Live capture tests run real AF_PACKET sockets on a veth pair between two
// network namespaces the test creates, with addresses only they use, so
// the traffic is known exactly and touches nothing else. They need root
// (CAP_SYS_ADMIN for namespaces, CAP_NET_RAW to capture) and iproute2.

// vethPair is the two namespaces, A and B, and the veth pair between them
// (package netns: IPv6 off and static neighbours, so the only packets on
// the link are the test's).
type vethPair struct{ *netns.Pair }

// newVethPair makes a pair in 10.200.0-249.0/24; it skips the test without
// root or the ip command.
func newVethPair(t *testing.T) *vethPair {
	t.Helper()
	return &vethPair{netns.NewPair(t, netns.Layout{Prefix: "nfs", IfPrefix: "nf", Subnet: 0, Subnets: 250})}
}

// linkPackets returns the packets ifA received plus those it sent.
func (v *vethPair) linkPackets(t *testing.T) uint64 {
	t.Helper()
	l := v.LinkStats(t, v.A.NS, v.A.If)
	return l.Stats.RX.Packets + l.Stats.TX.Packets
}

// promiscuity returns ifA's promiscuity count.
func (v *vethPair) promiscuity(t *testing.T) int {
	t.Helper()
	return v.Promiscuity(t, v.A.NS, v.A.If)
}

// openLive opens a capture on ifA, inside namespace A.
func (v *vethPair) openLive(t *testing.T, cfg capture.LiveConfig) []*capture.Live {
	t.Helper()
	cfg.Interface = v.A.If
	var lives []*capture.Live
	netns.Do(t, v.A.NS, func() error {
		var err error
		lives, err = capture.OpenLive(cfg)
		return err
	})
	t.Cleanup(func() {
		for _, l := range lives {
			l.Close()
		}
	})
	return lives
}

// compileLive compiles a filter for ifA with the default snapshot length,
// inside namespace A (libpcap opens the interface), as nfstream does before
// OpenLive. It skips the test in a build without cgo.
func (v *vethPair) compileLive(t *testing.T, expr string) []bpf.RawInstruction {
	t.Helper()
	var prog []bpf.RawInstruction
	var err error
	netns.Do(t, v.A.NS, func() error {
		prog, err = filter.CompileLive(expr, v.A.If, capture.DefaultSnaplen)
		return nil
	})
	if errors.Is(err, filter.ErrUnavailable) {
		t.Skip("filters need cgo")
	}
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

// flowKey names one direction of a flow: protocol, source and destination
// (ports, or the ICMP echo id as both ports).
type flowKey struct {
	proto    uint8
	src, dst netip.AddrPort
}

func (k flowKey) reverse() flowKey { return flowKey{k.proto, k.dst, k.src} }

func (k flowKey) String() string {
	return fmt.Sprintf("%d %v>%v", k.proto, k.src, k.dst)
}

// seen is one captured packet.
type seen struct {
	ring     int
	key      flowKey
	vlan     int    // 802.1Q id, -1 without a tag
	seq      uint64 // the test's sequence number in UDP payloads
	capLen   uint32
	wireLen  uint32
	unparsed bool
}

// parse reads the fields the tests check from an Ethernet frame.
func parse(ring int, p *capture.Packet) seen {
	s := seen{ring: ring, vlan: -1, capLen: p.CapLen, wireLen: p.Len}
	d := p.Data
	if len(d) < 14 {
		s.unparsed = true
		return s
	}
	et, off := binary.BigEndian.Uint16(d[12:]), 14
	if et == 0x8100 && len(d) >= 18 {
		s.vlan = int(binary.BigEndian.Uint16(d[14:]) & 0x0fff)
		et, off = binary.BigEndian.Uint16(d[16:]), 18
	}
	if et != 0x0800 || len(d) < off+20 {
		s.unparsed = true
		return s
	}
	ip := d[off:]
	ihl := int(ip[0]&0x0f) * 4
	s.key.proto = ip[9]
	src := netip.AddrFrom4([4]byte(ip[12:16]))
	dst := netip.AddrFrom4([4]byte(ip[16:20]))
	l4 := ip[ihl:]
	var sp, dp uint16
	switch s.key.proto {
	case 6, 17:
		if len(l4) >= 4 {
			sp, dp = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
		}
		if s.key.proto == 17 && len(l4) >= 16 {
			s.seq = binary.BigEndian.Uint64(l4[8:])
		}
	case 1:
		if len(l4) >= 6 {
			sp = binary.BigEndian.Uint16(l4[4:]) // echo id
			dp = sp
		}
	}
	s.key.src, s.key.dst = netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
	return s
}

// collector reads every ring in a goroutine of its own until Close.
type collector struct {
	mu    sync.Mutex
	pkts  []seen
	wg    sync.WaitGroup
	lives []*capture.Live
	errs  []error
}

func collect(lives []*capture.Live) *collector {
	c := &collector{lives: lives}
	for i, l := range lives {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			var p capture.Packet
			for {
				err := l.Next(&p)
				switch {
				case err == nil:
					s := parse(i, &p)
					c.mu.Lock()
					c.pkts = append(c.pkts, s)
					c.mu.Unlock()
				case errors.Is(err, capture.ErrTimeout):
				case err == io.EOF:
					return
				default:
					c.mu.Lock()
					c.errs = append(c.errs, err)
					c.mu.Unlock()
					return
				}
			}
		}()
	}
	return c
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pkts)
}

// stop waits until want packets were captured (or 5 s), gives duplicates
// some time to show, closes the rings and returns what they captured.
func (c *collector) stop(t *testing.T, want int) []seen {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.count() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	for _, l := range c.lives {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	c.wg.Wait()
	for _, err := range c.errs {
		t.Errorf("Next: %v", err)
	}
	return c.pkts
}

// traffic is what the test sent: for each UDP and ICMP flow direction the
// sequence numbers or count of its packets.
type traffic struct {
	udp     map[flowKey][]uint64 // sequence numbers sent in each direction
	payload map[flowKey]int      // UDP payload size in each direction
	icmp    map[flowKey]int
	tcp     []flowKey // client to server
}

const (
	udpRounds   = 5 // request/response pairs per UDP flow
	icmpEchoes  = 3
	udpPayload  = 100 // bytes; flows add their index
	bigPayload  = 1400
	tcpRequests = 3
)

// sendTraffic exchanges UDP (flows opened from both sides, one with large
// datagrams), ICMP echo (both ways) and TCP between the namespaces, each
// request waiting for its answer.
func (v *vethPair) sendTraffic(t *testing.T) traffic {
	t.Helper()
	a, b := v.A.Addr, v.B.Addr
	tr := traffic{udp: map[flowKey][]uint64{}, payload: map[flowKey]int{}, icmp: map[flowKey]int{}}
	seq := uint64(1)
	// UDP: 6 flows from B to A, 2 from A to B; flow 0 sends big datagrams.
	type udpFlow struct {
		clientNS, serverNS string
		client, server     netip.AddrPort
		payload            int
	}
	var flows []udpFlow
	for i := 0; i < 8; i++ {
		f := udpFlow{clientNS: v.B.NS, serverNS: v.A.NS,
			client: netip.AddrPortFrom(b, uint16(41000+i)), server: netip.AddrPortFrom(a, uint16(5000+i)),
			payload: udpPayload + i}
		if i >= 6 {
			f = udpFlow{clientNS: v.A.NS, serverNS: v.B.NS,
				client: netip.AddrPortFrom(a, uint16(42000+i)), server: netip.AddrPortFrom(b, uint16(6000+i)),
				payload: udpPayload + i}
		}
		if i == 0 {
			f.payload = bigPayload
		}
		flows = append(flows, f)
	}
	for _, f := range flows {
		var cc, sc *net.UDPConn
		netns.Do(t, f.serverNS, func() (err error) {
			sc, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(f.server))
			return err
		})
		netns.Do(t, f.clientNS, func() (err error) {
			cc, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(f.client), net.UDPAddrFromAddrPort(f.server))
			return err
		})
		up := flowKey{17, f.client, f.server}
		tr.payload[up], tr.payload[up.reverse()] = f.payload, f.payload
		buf := make([]byte, 2048)
		for r := 0; r < udpRounds; r++ {
			msg := make([]byte, f.payload)
			binary.BigEndian.PutUint64(msg, seq)
			tr.udp[up] = append(tr.udp[up], seq)
			seq++
			if _, err := cc.Write(msg); err != nil {
				t.Fatal(err)
			}
			sc.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, from, err := sc.ReadFromUDPAddrPort(buf)
			if err != nil || n != f.payload {
				t.Fatalf("udp server %v: %d bytes, %v", f.server, n, err)
			}
			binary.BigEndian.PutUint64(msg, seq)
			tr.udp[up.reverse()] = append(tr.udp[up.reverse()], seq)
			seq++
			if _, err := sc.WriteToUDPAddrPort(msg, from); err != nil {
				t.Fatal(err)
			}
			cc.SetReadDeadline(time.Now().Add(2 * time.Second))
			if n, err := cc.Read(buf); err != nil || n != f.payload {
				t.Fatalf("udp client %v: %d bytes, %v", f.client, n, err)
			}
		}
		cc.Close()
		sc.Close()
	}

	// ICMP echo, B to A and A to B: the kernel answers.
	for i, dir := range []struct {
		ns       string
		src, dst netip.Addr
	}{{v.B.NS, b, a}, {v.A.NS, a, b}} {
		id := uint16(0x4e00 + i)
		var c net.PacketConn
		netns.Do(t, dir.ns, func() (err error) {
			c, err = net.ListenPacket("ip4:icmp", dir.src.String())
			return err
		})
		k := flowKey{1, netip.AddrPortFrom(dir.src, id), netip.AddrPortFrom(dir.dst, id)}
		for s := 0; s < icmpEchoes; s++ {
			echo := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), 0, byte(s), 'n', 'f', 's'}
			binary.BigEndian.PutUint16(echo[2:], netns.Checksum(echo))
			if _, err := c.WriteTo(echo, &net.IPAddr{IP: dir.dst.AsSlice()}); err != nil {
				t.Fatal(err)
			}
			tr.icmp[k]++
			tr.icmp[k.reverse()]++
			buf := make([]byte, 1500)
			for {
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, _, err := c.ReadFrom(buf)
				if err != nil {
					t.Fatalf("icmp echo reply: %v", err)
				}
				if n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == id && buf[7] == byte(s) {
					break
				}
			}
		}
		c.Close()
	}

	// TCP: B connects to A, three request/response exchanges, close.
	var ln *net.TCPListener
	server := netip.AddrPortFrom(a, 7000)
	netns.Do(t, v.A.NS, func() (err error) {
		ln, err = net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(server))
		return err
	})
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.AcceptTCP()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		for i := 0; i < tcpRequests; i++ {
			if _, err := io.ReadFull(c, buf[:5]); err != nil {
				done <- err
				return
			}
			if _, err := c.Write([]byte("world")); err != nil {
				done <- err
				return
			}
		}
		_, err = c.Read(buf) // the client's FIN
		if err == io.EOF {
			err = nil
		}
		done <- err
	}()
	var cc net.Conn
	netns.Do(t, v.B.NS, func() (err error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: b.AsSlice(), Port: 43000}}
		cc, err = d.Dial("tcp4", server.String())
		return err
	})
	buf := make([]byte, 5)
	for i := 0; i < tcpRequests; i++ {
		if _, err := cc.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(cc, buf); err != nil {
			t.Fatal(err)
		}
	}
	cc.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	tr.tcp = append(tr.tcp, flowKey{6, netip.AddrPortFrom(b, 43000), server})
	// Let the last ACKs cross before the caller reads the counters.
	time.Sleep(200 * time.Millisecond)
	return tr
}

// udpFrameLen is the length on the wire of a UDP datagram of the flow.
func udpFrameLen(payload int) uint32 {
	return uint32(14 + 20 + 8 + payload)
}

// check compares what the rings captured with what was sent: every UDP
// datagram exactly once with its length, every ICMP echo and reply, TCP in
// both directions, each flow (both directions) on a single ring, and
// nothing else when all is true.
func check(t *testing.T, tr traffic, pkts []seen, snaplen int, tcpAndICMP bool) {
	t.Helper()
	type dirSeq struct {
		k   flowKey
		seq uint64
	}
	udpSeen := map[dirSeq]int{}
	icmpSeen := map[flowKey]int{}
	tcpSeen := map[flowKey]int{}
	ringOf := map[flowKey]int{} // per flow, both directions under one key
	flowOf := func(k flowKey) flowKey {
		if r := k.reverse(); r.String() < k.String() {
			return r
		}
		return k
	}
	for _, p := range pkts {
		if p.unparsed {
			t.Errorf("ring %d: an unexpected non-IPv4 frame (%d bytes)", p.ring, p.wireLen)
			continue
		}
		if p.vlan != -1 {
			t.Errorf("%v: VLAN %d in untagged traffic", p.key, p.vlan)
		}
		f := flowOf(p.key)
		if r, ok := ringOf[f]; ok && r != p.ring {
			t.Errorf("flow %v: packets on rings %d and %d", f, r, p.ring)
		}
		ringOf[f] = p.ring
		if want := min(p.wireLen, uint32(snaplen)); p.capLen != want {
			t.Errorf("%v: caplen %d with length %d and snaplen %d", p.key, p.capLen, p.wireLen, snaplen)
		}
		switch p.key.proto {
		case 17:
			udpSeen[dirSeq{p.key, p.seq}]++
			payload := tr.payload[p.key]
			if want := udpFrameLen(payload); p.wireLen != want {
				t.Errorf("%v seq %d: length %d, want %d", p.key, p.seq, p.wireLen, want)
			}
		case 1:
			icmpSeen[p.key]++
		case 6:
			tcpSeen[p.key]++
		default:
			t.Errorf("unexpected packet %v", p.key)
		}
	}
	for k, seqs := range tr.udp {
		for _, s := range seqs {
			if n := udpSeen[dirSeq{k, s}]; n != 1 {
				t.Errorf("udp %v seq %d captured %d times", k, s, n)
			}
			delete(udpSeen, dirSeq{k, s})
		}
	}
	for ds, n := range udpSeen {
		t.Errorf("udp %v seq %d: captured %d times but never sent", ds.k, ds.seq, n)
	}
	if !tcpAndICMP {
		if len(icmpSeen)+len(tcpSeen) > 0 {
			t.Errorf("the filter let through ICMP %v and TCP %v", icmpSeen, tcpSeen)
		}
		return
	}
	for k, n := range tr.icmp {
		if icmpSeen[k] != n {
			t.Errorf("icmp %v: captured %d, sent %d", k, icmpSeen[k], n)
		}
	}
	for _, k := range tr.tcp {
		if tcpSeen[k] < 3+tcpRequests || tcpSeen[k.reverse()] < 2+tcpRequests {
			t.Errorf("tcp %v: %d packets client to server, %d back; too few", k, tcpSeen[k], tcpSeen[k.reverse()])
		}
	}
	rings := map[int]int{}
	for _, r := range ringOf {
		rings[r]++
	}
	t.Logf("%d packets, %d flows; flows per ring: %v", len(pkts), len(ringOf), rings)
}

// checkStats checks the kernel's counters: every packet captured, none
// dropped.
func checkStats(t *testing.T, lives []*capture.Live, captured int) {
	t.Helper()
	var recv, drop uint64
	for _, l := range lives {
		r, d, err := l.Stats()
		if err != nil {
			t.Errorf("Stats: %v", err)
		}
		recv += r
		drop += d
	}
	if drop != 0 || recv != uint64(captured) {
		t.Errorf("kernel counted %d received, %d dropped; captured %d", recv, drop, captured)
	}
}

// TestLiveCapture captures known traffic with one and with two rings:
// every packet once, each flow on one ring, exact lengths, truncation at
// the snapshot length, kernel counters in agreement, nothing dropped.
func TestLiveCapture(t *testing.T) {
	for _, rings := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d rings", rings), func(t *testing.T) {
			v := newVethPair(t)
			const snaplen = 256 // below the big datagrams, above the others
			lives := v.openLive(t, capture.LiveConfig{Rings: rings, Snaplen: snaplen, Promisc: true})
			if len(lives) != rings {
				t.Fatalf("%d rings, want %d", len(lives), rings)
			}
			if got := v.promiscuity(t); got != rings {
				t.Errorf("promiscuity %d with %d promiscuous sockets", got, rings)
			}
			before := v.linkPackets(t)
			c := collect(lives)
			tr := v.sendTraffic(t)
			want := int(v.linkPackets(t) - before)
			pkts := c.stop(t, want)
			if len(pkts) != want {
				t.Errorf("captured %d packets; the interface counted %d", len(pkts), want)
			}
			check(t, tr, pkts, snaplen, true)
			checkStats(t, lives, len(pkts))
			if got := v.promiscuity(t); got != 0 {
				t.Errorf("promiscuity %d after Close", got)
			}
		})
	}
}

// TestLiveFilter attaches "udp" compiled for the live interface: the UDP
// datagrams arrive, exactly, and no ICMP or TCP.
func TestLiveFilter(t *testing.T) {
	v := newVethPair(t)
	cfg := capture.LiveConfig{Rings: 2, Filter: "udp", Program: v.compileLive(t, "udp")}
	lives := v.openLive(t, cfg)
	c := collect(lives)
	tr := v.sendTraffic(t)
	want := 0
	for _, seqs := range tr.udp {
		want += len(seqs)
	}
	pkts := c.stop(t, want)
	if len(pkts) != want {
		t.Errorf("captured %d packets, want the %d UDP datagrams", len(pkts), want)
	}
	check(t, tr, pkts, capture.DefaultSnaplen, false)
	checkStats(t, lives, len(pkts))
}

// TestLiveVLAN injects 802.1Q and 802.1ad tagged frames into the veth
// from namespace B (a packet socket there writes them whole). The kernel
// receiving them in A takes the outer tag out of the frame into the
// packet's metadata; Next must put it back, so every frame is captured
// byte for byte as sent. A "vlan 100 and udp" filter compiled for the live
// interface (which reads the tag from the metadata) keeps exactly the
// frames tagged 100.
func TestLiveVLAN(t *testing.T) {
	v := newVethPair(t)
	macA, macB := v.A.MAC, v.B.MAC
	// UDP 10.201.0.2:4000+i > 10.201.0.1:53, nobody listening (the frames
	// are dropped after the capture saw them).
	frame := func(i int, tags ...uint16) []byte {
		b := append(append([]byte{}, macA...), macB...)
		for j := 0; j < len(tags); j += 2 {
			b = binary.BigEndian.AppendUint16(b, tags[j])
			b = binary.BigEndian.AppendUint16(b, tags[j+1])
		}
		b = binary.BigEndian.AppendUint16(b, 0x0800)
		payload := 20 + 7*i
		ip := []byte{0x45, 0, 0, 0, 0, byte(i), 0, 0, 64, 17, 0, 0, 10, 201, 0, 2, 10, 201, 0, 1}
		binary.BigEndian.PutUint16(ip[2:], uint16(20+8+payload))
		binary.BigEndian.PutUint16(ip[10:], netns.Checksum(ip))
		b = append(b, ip...)
		b = binary.BigEndian.AppendUint16(b, uint16(4000+i))
		b = binary.BigEndian.AppendUint16(b, 53)
		b = binary.BigEndian.AppendUint16(b, uint16(8+payload))
		b = append(b, 0, 0)
		for k := 0; k < payload; k++ {
			b = append(b, byte(i+k))
		}
		return b
	}
	var frames [][]byte
	var tagged100 int
	for i := 0; i < 12; i++ {
		switch i % 4 {
		case 0, 1:
			frames = append(frames, frame(i, 0x8100, 100))
			tagged100++
		case 2:
			frames = append(frames, frame(i, 0x88a8, 10, 0x8100, 20)) // QinQ
		case 3:
			frames = append(frames, frame(i)) // untagged
		}
	}
	for _, expr := range []string{"", "vlan 100 and udp"} {
		t.Run(fmt.Sprintf("filter %q", expr), func(t *testing.T) {
			cfg := capture.LiveConfig{Rings: 2}
			want := frames
			if expr != "" {
				cfg.Filter, cfg.Program = expr, v.compileLive(t, expr)
				want = nil
				for _, f := range frames {
					if binary.BigEndian.Uint32(f[12:]) == 0x81000064 {
						want = append(want, f)
					}
				}
				if len(want) != tagged100 {
					t.Fatalf("%d frames tagged 100, want %d", len(want), tagged100)
				}
			}
			lives := v.openLive(t, cfg)
			got := make(chan []byte, 100)
			var wg sync.WaitGroup
			for _, l := range lives {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var p capture.Packet
					for {
						err := l.Next(&p)
						if err == io.EOF {
							return
						}
						if err == nil {
							if p.Len != p.CapLen || int(p.CapLen) != len(p.Data) {
								t.Errorf("caplen %d, len %d, %d bytes", p.CapLen, p.Len, len(p.Data))
							}
							got <- append([]byte(nil), p.Data...)
						}
					}
				}()
			}
			netns.Inject(t, v.B.NS, v.B.If, macA, frames)
			var captured [][]byte
			timeout := time.After(5 * time.Second)
		wait:
			for len(captured) < len(want) {
				select {
				case b := <-got:
					captured = append(captured, b)
				case <-timeout:
					break wait
				}
			}
			time.Sleep(300 * time.Millisecond)
			for _, l := range lives {
				l.Close()
			}
			wg.Wait()
			close(got)
			for b := range got {
				captured = append(captured, b)
			}
			left := map[string]int{}
			for _, f := range want {
				left[string(f)]++
			}
			for _, b := range captured {
				if left[string(b)] == 0 {
					t.Errorf("captured a frame not sent, or twice: % x", b)
					continue
				}
				left[string(b)]--
			}
			for f, n := range left {
				if n > 0 {
					t.Errorf("frame not captured: % x", []byte(f))
				}
			}
			t.Logf("%d frames sent, %d expected, %d captured", len(frames), len(want), len(captured))
		})
	}
}

// TestLiveTimeoutAndClose shows that Next returns ErrTimeout on a quiet
// link and io.EOF promptly when another goroutine closes the ring.
func TestLiveTimeoutAndClose(t *testing.T) {
	v := newVethPair(t)
	lives := v.openLive(t, capture.LiveConfig{Timeout: 50 * time.Millisecond})
	var p capture.Packet
	start := time.Now()
	if err := lives[0].Next(&p); !errors.Is(err, capture.ErrTimeout) {
		t.Fatalf("Next on a quiet link: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 40*time.Millisecond || d > 2*time.Second {
		t.Errorf("ErrTimeout after %v, want about 50ms", d)
	}

	lives = v.openLive(t, capture.LiveConfig{Timeout: time.Hour})
	errc := make(chan error, 1)
	go func() {
		var p capture.Packet
		errc <- lives[0].Next(&p)
	}()
	time.Sleep(100 * time.Millisecond)
	closed := time.Now()
	if err := lives[0].Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err != io.EOF {
			t.Errorf("Next after Close: %v, want io.EOF", err)
		}
		if d := time.Since(closed); d > time.Second {
			t.Errorf("Next returned %v after Close", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next still blocked 5s after Close")
	}
	if err := lives[0].Next(&p); err != io.EOF {
		t.Errorf("Next after Close: %v, want io.EOF", err)
	}
	if err := lives[0].Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, _, err := lives[0].Stats(); err != nil {
		t.Errorf("Stats after Close: %v", err)
	}
}

// TestLiveStopDrains stops a capture right after the last packet reached
// the receiving socket, when it is still in the block the kernel is
// filling: Next must deliver it before io.EOF.
func TestLiveStopDrains(t *testing.T) {
	v := newVethPair(t)
	for _, rings := range []int{1, 2} {
		lives := v.openLive(t, capture.LiveConfig{Rings: rings})
		var sc, cc *net.UDPConn
		netns.Do(t, v.A.NS, func() (err error) {
			sc, err = net.ListenUDP("udp4", &net.UDPAddr{IP: v.A.Addr.AsSlice(), Port: 9100})
			return err
		})
		netns.Do(t, v.B.NS, func() (err error) {
			cc, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: v.A.Addr.AsSlice(), Port: 9100})
			return err
		})
		const n = 50
		buf := make([]byte, 64)
		for i := 0; i < n; i++ {
			if _, err := cc.Write([]byte("stop")); err != nil {
				t.Fatal(err)
			}
			sc.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := sc.Read(buf); err != nil {
				t.Fatal(err)
			}
		}
		cc.Close()
		sc.Close()
		// Every datagram reached the socket, so every one went past the
		// capture: stop now, then drain.
		stopped := time.Now()
		for _, l := range lives {
			if err := l.Stop(); err != nil {
				t.Fatal(err)
			}
		}
		got := 0
		for _, l := range lives {
			var p capture.Packet
			for {
				err := l.Next(&p)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("Next after Stop: %v", err)
				}
				got++
			}
			l.Close()
		}
		if d := time.Since(stopped); d > 2*time.Second {
			t.Errorf("%d rings: draining took %v", rings, d)
		}
		if got != n {
			t.Errorf("%d rings: %d packets after Stop, want %d", rings, got, n)
		}
	}
}

// TestLiveInterfaceGone deletes the interface during the capture: Next
// says so instead of waiting forever.
func TestLiveInterfaceGone(t *testing.T) {
	v := newVethPair(t)
	lives := v.openLive(t, capture.LiveConfig{Timeout: 20 * time.Millisecond})
	v.Run(t, "-n", v.A.NS, "link", "del", v.A.If)
	var p capture.Packet
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := lives[0].Next(&p)
		if errors.Is(err, capture.ErrTimeout) && time.Now().Before(deadline) {
			continue
		}
		want := fmt.Sprintf("capture on %q: the interface went away", v.A.If)
		if err == nil || err.Error() != want {
			t.Errorf("Next after the interface was deleted: %v, want %q", err, want)
		}
		return
	}
}

// TestLiveRingSizes opens rings at the edges of the snapshot length and
// buffer size ranges: the kernel accepts the geometry chosen for each.
func TestLiveRingSizes(t *testing.T) {
	v := newVethPair(t)
	for _, cfg := range []capture.LiveConfig{
		{Snaplen: 262144, BufferKiB: 1},
		{Snaplen: 262144, BufferKiB: 64 << 10},
		{Snaplen: 60, BufferKiB: 1, Rings: 4},
		{Snaplen: 1536, BufferKiB: 100000, Rings: 2},
	} {
		for _, l := range v.openLive(t, cfg) {
			if err := l.Close(); err != nil {
				t.Errorf("%+v: Close: %v", cfg, err)
			}
		}
	}
}

// TestLiveNoAllocs shows that Next allocates nothing per packet.
func TestLiveNoAllocs(t *testing.T) {
	v := newVethPair(t)
	lives := v.openLive(t, capture.LiveConfig{})
	var sc, cc *net.UDPConn
	netns.Do(t, v.A.NS, func() (err error) {
		sc, err = net.ListenUDP("udp4", &net.UDPAddr{IP: v.A.Addr.AsSlice(), Port: 9000})
		return err
	})
	defer sc.Close()
	netns.Do(t, v.B.NS, func() (err error) {
		cc, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: v.A.Addr.AsSlice(), Port: 9000})
		return err
	})
	defer cc.Close()
	const n = 400
	for i := 0; i < n; i++ {
		if _, err := cc.Write([]byte("0123456789")); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // the block retires after 100 ms
	var p capture.Packet
	if err := lives[0].Next(&p); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(n-10, func() {
		if err := lives[0].Next(&p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Next allocates %v times per packet", allocs)
	}
}

// TestLiveErrors checks the errors before any capture: a missing
// interface, and a process without CAP_NET_RAW.
func TestLiveErrors(t *testing.T) {
	_, err := capture.OpenLive(capture.LiveConfig{Interface: "nfs-nosuch0"})
	if !errors.Is(err, capture.ErrNoInterface) || err.Error() != `interface "nfs-nosuch0" does not exist` {
		t.Errorf("missing interface: %v", err)
	}
	_, err = capture.OpenLive(capture.LiveConfig{Interface: "lo", Filter: "tcp"})
	if err == nil || !strings.Contains(err.Error(), "without its compiled program") {
		t.Errorf("filter without a program: %v", err)
	}
	for _, cfg := range []capture.LiveConfig{
		{Interface: "lo", Snaplen: -1}, {Interface: "lo", Snaplen: 262145},
		{Interface: "lo", Rings: -1}, {Interface: "lo", BufferKiB: -5}, {},
	} {
		if _, err := capture.OpenLive(cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}

	if os.Geteuid() != 0 {
		_, err := capture.OpenLive(capture.LiveConfig{Interface: "lo"})
		wantPrivilegeError(t, err)
		return
	}
	// As root: run this test binary again without CAP_NET_RAW.
	setpriv, lerr := exec.LookPath("setpriv")
	if lerr != nil {
		t.Skip("setpriv (util-linux) is needed to drop CAP_NET_RAW")
	}
	cmd := exec.Command(setpriv, "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-net_raw",
		os.Args[0], "-test.run=^TestLiveHelperNoPrivileges$", "-test.count=1")
	cmd.Env = append(os.Environ(), "NFSTREAM_LIVE_HELPER=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper without CAP_NET_RAW: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "helper: ok") {
		t.Errorf("helper output:\n%s", out)
	}
}

func wantPrivilegeError(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, capture.ErrPrivileges) || err.Error() != `capturing on "lo" needs root or CAP_NET_RAW` {
		t.Errorf("without CAP_NET_RAW: %v", err)
	}
}

// TestLiveHelperNoPrivileges is TestLiveErrors's subprocess, run without
// CAP_NET_RAW; on its own it does nothing.
func TestLiveHelperNoPrivileges(t *testing.T) {
	if os.Getenv("NFSTREAM_LIVE_HELPER") != "1" {
		t.Skip("run by TestLiveErrors")
	}
	_, err := capture.OpenLive(capture.LiveConfig{Interface: "lo"})
	wantPrivilegeError(t, err)
	if !t.Failed() {
		fmt.Println("helper: ok")
	}
}
