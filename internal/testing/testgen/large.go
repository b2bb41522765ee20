package testgen

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// LargeConfig configures WriteLarge. Zero fields take the defaults.
type LargeConfig struct {
	// Packets is the number of packets written (default 3,000,000).
	Packets int
	// Flows is the number of distinct flows (default 300,000); every flow
	// has a unique 5-tuple and at least one packet.
	Flows int
	// Concurrent is how many flows exchange packets at once, interleaved
	// at random (default Flows/3).
	Concurrent int
	// PacketsPerSecond sets the capture's packet rate (default 500,000).
	PacketsPerSecond int
	// Seed makes a different, equally deterministic capture.
	Seed uint64
	// Start is the first packet's time (default 2024-03-01 12:00:00 UTC).
	Start time.Time
}

// LargeStats describes what WriteLarge wrote.
type LargeStats struct {
	Packets   int64
	Flows     int64
	TCPFlows  int64
	UDPFlows  int64
	IPv6Flows int64
	// FrameBytes is the sum of the frames' lengths; FileBytes the size of
	// the whole pcap file.
	FrameBytes int64
	FileBytes  int64
}

// maxLargeFlows bounds Flows: each flow's client address is derived from
// its index within a /8.
const maxLargeFlows = 1 << 24

func (c *LargeConfig) withDefaults() LargeConfig {
	d := *c
	if d.Packets == 0 {
		d.Packets = 3_000_000
	}
	if d.Flows == 0 {
		d.Flows = min(300_000, d.Packets)
	}
	if d.Concurrent == 0 {
		d.Concurrent = max(d.Flows/3, 1)
	}
	if d.PacketsPerSecond == 0 {
		d.PacketsPerSecond = 500_000
	}
	if d.Start.IsZero() {
		d.Start = start
	}
	return d
}

// Validate names the first field of c that is out of range.
func (c *LargeConfig) Validate() error {
	d := c.withDefaults()
	switch {
	case d.Packets < 1:
		return fmt.Errorf("large capture: Packets %d: must be at least 1", d.Packets)
	case d.Flows < 1 || d.Flows > maxLargeFlows:
		return fmt.Errorf("large capture: Flows %d: must be 1 to %d", d.Flows, maxLargeFlows)
	case d.Flows > d.Packets:
		return fmt.Errorf("large capture: Flows %d: more than Packets %d", d.Flows, d.Packets)
	case d.Concurrent < 1:
		return fmt.Errorf("large capture: Concurrent %d: must be at least 1", d.Concurrent)
	case d.PacketsPerSecond < 1 || d.PacketsPerSecond > 1_000_000_000:
		return fmt.Errorf("large capture: PacketsPerSecond %d: must be 1 to 1e9", d.PacketsPerSecond)
	}
	return nil
}

// largeFlow is the state of one open flow of the large capture.
type largeFlow struct {
	cli, srv     [16]byte // IPv4 addresses use the first 4 bytes
	cport, sport uint16
	v6, udp      bool
	sent, total  uint32
	seq          [2]uint32
	ipID         uint16
	cmac         [6]byte
}

// largeWriter holds the reused buffers of WriteLarge.
type largeWriter struct {
	w     *bufio.Writer
	r     rng
	buf   [16 + 256]byte // record header and frame
	fill  [1024]byte     // payload bytes, taken from at a random offset
	stats LargeStats
	err   error
}

var gatewayMAC = [6]byte{0x00, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e}

// WriteLarge writes a classic pcap (Ethernet, microseconds) of cfg.Packets
// packets spread over cfg.Flows flows, about a tenth IPv6 and a third UDP,
// with Concurrent flows interleaved at any time. Frames are 60 to 200
// bytes with valid IPv4 header, TCP and UDP checksums. Each frame is
// written by hand into one reused buffer, so memory stays proportional to
// the open flows, not to the capture. The output depends only on cfg.
func WriteLarge(w io.Writer, cfg LargeConfig) (LargeStats, error) {
	if err := cfg.Validate(); err != nil {
		return LargeStats{}, err
	}
	c := cfg.withDefaults()
	lw := &largeWriter{w: bufio.NewWriterSize(w, 1<<20), r: rng{s: c.Seed ^ 0x6e6673747265616d}}
	for i := range lw.fill {
		lw.fill[i] = byte(lw.r.next())
	}
	h := pcapFileHeader(binary.LittleEndian, defaultSnapLen, 1)
	lw.write(h[:])

	pool := make([]largeFlow, 0, min(c.Concurrent, c.Flows))
	started, unassigned := 0, c.Packets
	now := c.Start.UnixNano()
	meanGap := int64(time.Second) / int64(c.PacketsPerSecond)
	for n := 0; n < c.Packets && lw.err == nil; n++ {
		now += 1 + int64(lw.r.next()%uint64(2*meanGap))
		startNew := started < c.Flows && len(pool) < c.Concurrent &&
			(len(pool) == 0 || lw.r.next()%4 == 0)
		// A flow whose packets are all sent leaves the pool, so a pool
		// that is empty always means flows are left to start.
		if startNew || len(pool) == 0 {
			left := c.Flows - started
			total := unassigned
			if left > 1 {
				avg := unassigned / left
				total = 1 + int(lw.r.next()%uint64(2*avg-1))
				total = min(total, unassigned-(left-1))
			}
			unassigned -= total
			pool = append(pool, lw.newFlow(c.Seed, started, total))
			started++
			lw.packet(&pool[len(pool)-1], now)
			if pool[len(pool)-1].sent == pool[len(pool)-1].total {
				pool = pool[:len(pool)-1]
			}
			continue
		}
		i := int(lw.r.next() % uint64(len(pool)))
		f := &pool[i]
		lw.packet(f, now)
		if f.sent == f.total {
			pool[i] = pool[len(pool)-1]
			pool = pool[:len(pool)-1]
		}
	}
	if lw.err == nil {
		lw.err = lw.w.Flush()
	}
	lw.stats.Flows = int64(started)
	lw.stats.FileBytes = 24 + 16*lw.stats.Packets + lw.stats.FrameBytes
	return lw.stats, lw.err
}

func (lw *largeWriter) write(b []byte) {
	if lw.err == nil {
		_, lw.err = lw.w.Write(b)
	}
}

// newFlow derives flow number i's endpoints from i and the seed: the
// client address encodes i, so every flow's 5-tuple is unique.
func (lw *largeWriter) newFlow(seed uint64, i, total int) largeFlow {
	h := rng{s: seed*0x9e3779b97f4a7c15 + uint64(i)}
	a, b := h.next(), h.next()
	f := largeFlow{total: uint32(total), v6: a%10 == 0, udp: a/10%100 < 30,
		seq: [2]uint32{uint32(b), uint32(b >> 32)}, ipID: uint16(a >> 32)}
	f.cport = uint16(1024 + (a>>16)%64512)
	srv := uint16((b >> 20) % 4096)
	if f.v6 {
		// 2001:db8:c000::/64 clients, 2001:db8:5e00::/116 servers.
		copy(f.cli[:], []byte{0x20, 0x01, 0x0d, 0xb8, 0xc0, 0x00})
		copy(f.srv[:], []byte{0x20, 0x01, 0x0d, 0xb8, 0x5e, 0x00})
		binary.BigEndian.PutUint32(f.cli[12:], uint32(i))
		binary.BigEndian.PutUint16(f.srv[14:], srv)
	} else {
		// 10.0.0.0/8 clients, 172.16.0.0/20 servers.
		binary.BigEndian.PutUint32(f.cli[:], 10<<24|uint32(i))
		binary.BigEndian.PutUint32(f.srv[:], 172<<24|16<<16|uint32(srv))
	}
	tcpPorts := [...]uint16{443, 443, 443, 80, 80, 8080, 22, 993, 5222, 3389}
	udpPorts := [...]uint16{53, 53, 53, 443, 443, 123, 5353, 3478, 1900, 51820}
	if f.udp {
		f.sport = udpPorts[(b>>40)%10]
	} else {
		f.sport = tcpPorts[(b>>40)%10]
	}
	f.cmac = [6]byte{0x02, 0x00, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
	return f
}

// packet writes the flow's next packet at time t (Unix nanoseconds).
func (lw *largeWriter) packet(f *largeFlow, t int64) {
	k := f.sent
	f.sent++
	// Direction and TCP flags: handshake, then data either way, and a
	// FIN on the last packet of flows long enough to have one.
	dir := 0
	var flags byte
	const fin, syn, psh, ack = 0x01, 0x02, 0x08, 0x10
	switch {
	case k == 0:
		flags = syn
	case k == 1 && !f.udp:
		dir, flags = 1, syn|ack
	case k == 2 && !f.udp:
		flags = ack
	default:
		dir = int(lw.r.next() & 1)
		flags = ack
		if k == f.total-1 && f.total >= 5 {
			flags |= fin
		}
	}
	if f.udp {
		flags = 0
	}
	ipHdr, l4Hdr := 20, 20
	if f.v6 {
		ipHdr = 40
	}
	if f.udp {
		l4Hdr = 8
	}
	payload := 0
	if f.udp || (k >= 3 && lw.r.next()%3 != 0) {
		payload = int(lw.r.next() % uint64(200-14-ipHdr-l4Hdr+1))
	}
	if !f.udp && payload > 0 {
		flags |= psh
	}

	fr := lw.buf[16:]
	l3 := fr[14:]
	l4 := l3[ipHdr:]
	src, dst := f.cli[:], f.srv[:]
	sport, dport := f.cport, f.sport
	smac, dmac := f.cmac, gatewayMAC
	if dir == 1 {
		src, dst, sport, dport, smac, dmac = dst, src, dport, sport, dmac, smac
	}
	be := binary.BigEndian

	// Ethernet: destination, source, EtherType.
	copy(fr[0:6], dmac[:])
	copy(fr[6:12], smac[:])
	proto := byte(6)
	if f.udp {
		proto = 17
	}
	l4Len := l4Hdr + payload
	if f.v6 {
		be.PutUint16(fr[12:], 0x86dd)
		// IPv6: version 6, traffic class 0, flow label from the ports.
		be.PutUint32(l3[0:], 6<<28|uint32(f.cport^f.sport)&0xfffff)
		be.PutUint16(l3[4:], uint16(l4Len))
		l3[6] = proto
		l3[7] = 64 - byte(dir)*7
		copy(l3[8:24], src)
		copy(l3[24:40], dst)
	} else {
		be.PutUint16(fr[12:], 0x0800)
		// IPv4: version 4, IHL 5, TOS 0, total length, id, DF for TCP,
		// TTL, protocol, checksum, addresses.
		l3[0], l3[1] = 0x45, 0
		be.PutUint16(l3[2:], uint16(20+l4Len))
		be.PutUint16(l3[4:], f.ipID)
		f.ipID++
		if f.udp {
			be.PutUint16(l3[6:], 0)
		} else {
			be.PutUint16(l3[6:], 0x4000)
		}
		l3[8] = 64 - byte(dir)*7
		l3[9] = proto
		l3[10], l3[11] = 0, 0
		copy(l3[12:16], src[:4])
		copy(l3[16:20], dst[:4])
		be.PutUint16(l3[10:], ^fold(sum16(l3[:20], 0)))
	}

	be.PutUint16(l4[0:], sport)
	be.PutUint16(l4[2:], dport)
	if f.udp {
		be.PutUint16(l4[4:], uint16(l4Len))
		l4[6], l4[7] = 0, 0
	} else {
		be.PutUint32(l4[4:], f.seq[dir])
		var ackNo uint32
		if flags&ack != 0 {
			ackNo = f.seq[1-dir]
		}
		be.PutUint32(l4[8:], ackNo)
		l4[12] = 5 << 4
		l4[13] = flags
		be.PutUint16(l4[14:], 64240)
		l4[16], l4[17], l4[18], l4[19] = 0, 0, 0, 0
		f.seq[dir] += uint32(payload)
		if flags&(syn|fin) != 0 {
			f.seq[dir]++
		}
	}
	off := int(lw.r.next() % uint64(len(lw.fill)-256))
	copy(l4[l4Hdr:l4Len], lw.fill[off:])

	// Transport checksum over the pseudo-header and the segment.
	var ps uint32
	if f.v6 {
		ps = sum16(l3[8:40], 0)
	} else {
		ps = sum16(l3[12:20], 0)
	}
	ps += uint32(proto) + uint32(l4Len)
	cs := ^fold(sum16(l4[:l4Len], ps))
	if f.udp && cs == 0 {
		cs = 0xffff
	}
	if f.udp {
		be.PutUint16(l4[6:], cs)
	} else {
		be.PutUint16(l4[16:], cs)
	}

	n := 14 + ipHdr + l4Len
	if n < 60 {
		clear(fr[n:60]) // Ethernet padding
		n = 60
	}
	le := binary.LittleEndian
	le.PutUint32(lw.buf[0:], uint32(t/1e9))
	le.PutUint32(lw.buf[4:], uint32(t%1e9/1e3))
	le.PutUint32(lw.buf[8:], uint32(n))
	le.PutUint32(lw.buf[12:], uint32(n))
	lw.write(lw.buf[:16+n])

	lw.stats.Packets++
	lw.stats.FrameBytes += int64(n)
	if k == 0 {
		switch {
		case f.udp:
			lw.stats.UDPFlows++
		default:
			lw.stats.TCPFlows++
		}
		if f.v6 {
			lw.stats.IPv6Flows++
		}
	}
}

// sum16 adds b as big-endian 16-bit words to s (an odd last byte is
// padded with zero), the one's complement sum of RFC 1071 before folding.
func sum16(b []byte, s uint32) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// LargeFile returns the path of the capture WriteLarge makes for cfg in
// dir, writing it first unless an earlier call did (the output depends only
// on cfg, so a file of that name is that capture). Benchmarks share it
// across runs this way.
func LargeFile(dir string, cfg LargeConfig) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	c := cfg.withDefaults()
	path := filepath.Join(dir, fmt.Sprintf("nfstream-bench-%d-%d-%d-%d-%d.pcap", c.Packets, c.Flows, c.Concurrent, c.PacketsPerSecond, c.Seed))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	tmp, err := os.CreateTemp(dir, ".nfstream-bench-*.pcap")
	if err != nil {
		return "", err
	}
	_, err = WriteLarge(tmp, cfg)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return path, nil
}

// LargeConfigFromEnv is the benchmarks' large capture: NFSTREAM_BENCH_PACKETS
// packets (default 3,000,000) over NFSTREAM_BENCH_FLOWS flows (default
// 300,000), NFSTREAM_BENCH_CONCURRENT of them exchanging packets at any time,
// interleaved at random (default a third of the flows).
func LargeConfigFromEnv() LargeConfig {
	cfg := LargeConfig{
		Packets: envInt("NFSTREAM_BENCH_PACKETS", 3_000_000),
		Flows:   envInt("NFSTREAM_BENCH_FLOWS", 300_000),
	}
	cfg.Concurrent = envInt("NFSTREAM_BENCH_CONCURRENT", cfg.Flows/3)
	return cfg
}

// envInt reads a positive integer from the environment, def when unset or
// not one.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
