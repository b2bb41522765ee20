//go:build linux

package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Live capture on Linux: AF_PACKET sockets with TPACKET_V3 receive rings,
// joined in one PACKET_FANOUT group.
//
// The socket itself (socket, the filter before bind, bind, promiscuous
// mode, statistics, filters) is github.com/mdlayher/packet's; the ring
// (PACKET_VERSION, PACKET_RESERVE, PACKET_RX_RING, mmap), the fanout
// group and the wait for a block go through the connection's raw
// descriptor (SyscallConn), since the package has no ring of its own.
//
// Ring layout (TPACKET_V3): the ring is blockCount blocks of blockSize
// bytes. Each block starts with a struct tpacket_block_desc whose
// block_status the kernel sets to TP_STATUS_USER when it retires the block
// (full, or tp_retire_blk_tov ms after its first packet); the block then
// holds num_pkts packets, the first at offset_to_first_pkt, each a struct
// tpacket3_hdr (then a struct sockaddr_ll, then the frame at tp_mac) with
// tp_next_offset to the next. Userspace hands the block back by setting
// block_status to TP_STATUS_KERNEL. Blocks are used in order.

// Sizes and offsets of the kernel's ring structures (linux/if_packet.h).
const (
	tpacketAlignment = 16
	// tpacket3HdrLen is TPACKET3_HDRLEN: the aligned struct tpacket3_hdr
	// followed by a struct sockaddr_ll.
	tpacket3HdrLen = (int(unsafe.Sizeof(unix.Tpacket3Hdr{}))+tpacketAlignment-1)&^(tpacketAlignment-1) + unix.SizeofSockaddrLinklayer
	// blockDescLen is BLK_PLUS_PRIV(0): the aligned block descriptor.
	blockDescLen = (int(unsafe.Sizeof(unix.TpacketBlockDesc{})) + 7) &^ 7
	// ringReserve is PACKET_RESERVE: headroom before each frame, where Next
	// puts back an 802.1Q tag the kernel took out of the frame.
	ringReserve = 4
	// maxBlockSize caps a block: larger blocks are harder for the kernel
	// to allocate and only delay small bursts.
	maxBlockSize = 1 << 20
	// minBlocks is the smallest number of blocks per ring, so the kernel
	// can fill one while the reader works on another.
	minBlocks = 2
	// blocksWanted is how many blocks the buffer is split into, when that
	// leaves blocks big enough for a frame.
	blocksWanted = 8
)

// Offsets in struct tpacket_block_desc: block_status and num_pkts, then
// offset_to_first_pkt (struct tpacket_hdr_v1 starts at byte 8).
const (
	offBlockStatus = 8
	offNumPkts     = 12
	offFirstPkt    = 16
)

// vlanTPID is ETH_P_8021Q, the tag protocol the kernel reports when it does
// not say otherwise.
const vlanTPID = 0x8100

// liveFanoutGroups makes pid-based fanout group ids distinct between the
// OpenLive calls of one process (used only on kernels without
// PACKET_FANOUT_FLAG_UNIQUEID).
var liveFanoutGroups atomic.Uint32

// Live is one ring of a live capture: a Source reading the packets the
// kernel's fanout hash assigns to this ring.
//
// Next must be called from one goroutine at a time. Close and Stats may be
// called from any goroutine, also while Next waits.
type Live struct {
	iface     string
	loopback  bool // the loopback device: drop outgoing copies
	ifindex   int
	link      LinkType
	snaplen   uint32
	timeout   time.Duration
	conn      *packet.Conn
	rc        syscall.RawConn // conn's descriptor
	blockSize int
	blocks    int

	// mu is held by Next while it reads the ring, so Close can take the
	// ring away between calls.
	mu     sync.Mutex
	ring   []byte   // the mapped ring; nil once unmapped
	mem    *ringMem // the same mapping, for the cleanup
	closed atomic.Bool
	ready  func(fd uintptr) bool // the wait condition, made once

	// Set by Stop: no packet enters the ring any more, and Next returns
	// io.EOF once the ring is empty and drainBy (Unix ns) has passed.
	stopping atomic.Bool
	drainBy  atomic.Int64

	// The reader's place in the ring (Next only, under mu).
	blk     int    // index of the block being read or waited for
	owned   bool   // blk is handed to us and not yet given back
	left    uint32 // packets of blk not yet delivered
	pktOff  int    // offset in blk of the next packet
	lastErr error  // sticky error of Next

	// Totals of PACKET_STATISTICS, which resets on every read.
	statsMu           sync.Mutex
	received, dropped uint64
}

// OpenLive opens cfg.Rings AF_PACKET sockets on cfg.Interface, each with a
// TPACKET_V3 ring, joined in one fanout group in hash mode with IP
// defragmentation (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG): the
// kernel's flow hash is symmetric, so both directions of a flow reach the
// same ring. It fails, before capturing anything, with an error wrapping
// ErrNoInterface when the interface does not exist and ErrPrivileges
// without root or CAP_NET_RAW.
//
// The sockets are set up so that no packet reaches two rings and every
// packet that reaches a ring has passed the filter: each socket gets a
// reject-all program before it is bound to the interface and joins the
// group; once all are members, each gets the real program (or, without a
// filter, one that only truncates to the snapshot length). Packets seen
// before OpenLive returns may be lost, never duplicated.
//
// Sockets stay in the network namespace of the thread that called
// OpenLive.
func OpenLive(cfg LiveConfig) ([]*Live, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, noInterface(cfg.Interface, err)
	}

	var lives []*Live
	fail := func(err error) ([]*Live, error) {
		for _, l := range lives {
			l.Close()
		}
		return nil, err
	}
	for i := 0; i < cfg.Rings; i++ {
		l, err := newLive(cfg, ifi)
		if err != nil {
			return fail(err)
		}
		lives = append(lives, l)
	}

	// The program every ring runs once all are in the group.
	prog := []bpf.RawInstruction{{Op: opRetK, K: uint32(cfg.Snaplen)}}
	if len(cfg.Program) > 0 {
		// The kernel checks the program when it is attached.
		prog = cfg.Program
	}

	// A single ring joins a group too, as NFStream's one meter does: the
	// group's defragmentation then applies whatever the number of rings.
	if err := joinFanout(lives); err != nil {
		return fail(fmt.Errorf("capture on %q: %w", cfg.Interface, err))
	}
	for _, l := range lives {
		if err := l.conn.SetBPF(prog); err != nil {
			return fail(fmt.Errorf("capture on %q: filter %q: %w", cfg.Interface, cfg.Filter, err))
		}
	}
	return lives, nil
}

// rejectAll is the classic BPF program that keeps no packet: the filter
// of a socket before it has joined its group, and after Stop.
var rejectAll = []bpf.RawInstruction{{Op: opRetK, K: 0}}

// opRetK is BPF_RET|BPF_K: return the constant K, the number of bytes of
// the packet to keep.
const opRetK = 0x06

// newLive makes one socket with its ring, bound to the interface and
// rejecting every packet.
func newLive(cfg LiveConfig, ifi *net.Interface) (*Live, error) {
	// The reject-all filter is attached before bind, so nothing is
	// queued on the socket before its ring exists and its real filter is
	// in place. The protocol is given to bind only (socket(2) gets 0), so
	// the socket sees no packet before that either.
	conn, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, &packet.Config{Filter: rejectAll})
	switch {
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		return nil, noPrivileges(cfg.Interface, err)
	case errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO):
		return nil, noInterface(cfg.Interface, err)
	case err != nil:
		return nil, fmt.Errorf("capture on %q: %w", cfg.Interface, err)
	}
	l := &Live{iface: cfg.Interface, ifindex: ifi.Index, snaplen: uint32(cfg.Snaplen), timeout: cfg.Timeout, conn: conn}
	ok := false
	defer func() {
		if !ok {
			if l.ring != nil {
				unix.Munmap(l.ring)
			}
			conn.Close()
		}
	}()
	wrap := func(op string, err error) error {
		return fmt.Errorf("capture on %q: %s: %w", cfg.Interface, op, err)
	}

	// The descriptor is non-blocking and watched by the runtime's poller:
	// Next waits there (rc.Read), and Close wakes it.
	if l.rc, err = conn.SyscallConn(); err != nil {
		return nil, wrap("descriptor", err)
	}
	err = l.control(func(fd int) error {
		var err error
		if l.link, l.loopback, err = linkTypeOf(fd, cfg.Interface); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
			return wrap("TPACKET_V3", err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_RESERVE, ringReserve); err != nil {
			return wrap("PACKET_RESERVE", err)
		}
		req := ringGeometry(cfg.Snaplen, cfg.BufferKiB, os.Getpagesize(), cfg.Timeout)
		if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
			if errors.Is(err, unix.ENOMEM) {
				return wrap(fmt.Sprintf("ring of %d blocks of %d KiB", req.Block_nr, req.Block_size>>10), err)
			}
			return wrap("PACKET_RX_RING", err)
		}
		l.blockSize, l.blocks = int(req.Block_size), int(req.Block_nr)
		if l.ring, err = unix.Mmap(fd, 0, l.blockSize*l.blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
			return wrap("mmap of the ring", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if cfg.Promisc {
		// The membership goes when the socket closes.
		if err := conn.SetPromiscuous(true); err != nil {
			return nil, wrap("promiscuous mode", err)
		}
	}

	l.ready = func(uintptr) bool { return l.closed.Load() || l.blockReady() }
	l.mem = &ringMem{b: l.ring}
	runtime.AddCleanup(l, (*ringMem).unmap, l.mem)
	ok = true
	return l, nil
}

// ringMem is a ring mapping, apart from its Live so that a cleanup can
// unmap it once the Live is unreachable.
type ringMem struct {
	mu sync.Mutex
	b  []byte
}

// unmap unmaps the ring if that was not done yet.
func (m *ringMem) unmap() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.b != nil {
		unix.Munmap(m.b)
		m.b = nil
	}
}

// ringGeometry chooses the ring for a snapshot length and buffer size: the
// buffer split into blocksWanted blocks when such blocks hold a frame of
// snaplen bytes with its headers, else into blocks of the smallest size
// that does; blocks are powers of two of at least a page and at most
// maxBlockSize (unless a frame needs more), and there are at least
// minBlocks. tp_frame_size only matters to the kernel's checks in
// TPACKET_V3, where frames have variable sizes.
func ringGeometry(snaplen, bufferKiB, pageSize int, timeout time.Duration) unix.TpacketReq3 {
	// Where the kernel puts the frame (tpacket_rcv): netoff is the header
	// length with at least 16 bytes of link header, aligned, plus the
	// reserve; the frame ends before netoff + snaplen.
	netoff := (tpacket3HdrLen+16+tpacketAlignment-1)&^(tpacketAlignment-1) + ringReserve
	frame := (netoff + snaplen + tpacketAlignment - 1) &^ (tpacketAlignment - 1)
	minBlock := pageSize
	for minBlock < frame+blockDescLen {
		minBlock <<= 1
	}
	total := bufferKiB << 10
	block := minBlock
	for block < maxBlockSize && block*2*blocksWanted <= total {
		block <<= 1
	}
	n := max(total/block, minBlocks)
	tov := max(uint32(timeout/time.Millisecond), 1)
	return unix.TpacketReq3{
		Block_size:     uint32(block),
		Block_nr:       uint32(n),
		Frame_size:     uint32(frame),
		Frame_nr:       uint32(block / frame * n),
		Retire_blk_tov: tov,
	}
}

// linkTypeOf maps the interface's hardware type to the link type of the
// frames a SOCK_RAW packet socket delivers on it.
func linkTypeOf(fd int, iface string) (link LinkType, loopback bool, err error) {
	ifr, err := unix.NewIfreq(iface)
	if err != nil {
		return 0, false, noInterface(iface, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return 0, false, noInterface(iface, err)
		}
		return 0, false, fmt.Errorf("capture on %q: hardware type: %w", iface, err)
	}
	switch hw := ifr.Uint16(); hw {
	case unix.ARPHRD_ETHER:
		return LinkEthernet, false, nil
	case unix.ARPHRD_LOOPBACK:
		// The loopback device has Ethernet headers (zero addresses).
		return LinkEthernet, true, nil
	case unix.ARPHRD_NONE, unix.ARPHRD_RAWIP, unix.ARPHRD_PPP, unix.ARPHRD_TUNNEL, unix.ARPHRD_TUNNEL6:
		// No link header: frames start with the IP header.
		return LinkRaw, false, nil
	default:
		return 0, false, fmt.Errorf("capture on %q: hardware type %d (ARPHRD_) is not supported", iface, hw)
	}
}

// outgoingOnLoopback reports whether the next frame of the block is the
// outgoing copy of a loopback packet. The loopback device shows every
// packet twice, leaving and arriving; libpcap drops the outgoing copy
// (linux_check_direction), and so do we, so each packet counts once as it
// does in NFStream.
func (l *Live) outgoingOnLoopback() bool {
	if !l.loopback {
		return false
	}
	base := l.blk*l.blockSize + l.pktOff
	const pkttype = 10 // offset of sll_pkttype in struct sockaddr_ll
	sll := base + tpacket3HdrLen - unix.SizeofSockaddrLinklayer
	return l.ring[sll+pkttype] == unix.PACKET_OUTGOING
}

// skip passes over the next frame of the block.
func (l *Live) skip() {
	h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&l.ring[l.blk*l.blockSize+l.pktOff]))
	l.pktOff += int(h.Next_offset)
	l.left--
}

// fanoutArg is PACKET_FANOUT's 32-bit argument, mode and flags in the upper
// half and the group id in the lower, as the int setsockopt takes on any
// word size (the flags set its sign bit).
func fanoutArg(mode, id int) int {
	return int(int32(uint32(mode)<<16 | uint32(id)))
}

// joinFanout puts every socket in one new fanout group. The kernel picks
// an unused group id (PACKET_FANOUT_FLAG_UNIQUEID, Linux 4.4) so two
// captures can never share a group by accident; older kernels get an id
// from the process id, as NFStream uses.
func joinFanout(lives []*Live) error {
	const mode = unix.PACKET_FANOUT_HASH | unix.PACKET_FANOUT_FLAG_DEFRAG
	var id int
	err := lives[0].control(func(fd int) error {
		err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, fanoutArg(mode|unix.PACKET_FANOUT_FLAG_UNIQUEID, 0))
		if err == nil {
			v, gerr := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
			id = v & 0xffff
			return gerr
		}
		if !errors.Is(err, unix.EINVAL) {
			return err
		}
		id = (os.Getpid() + int(liveFanoutGroups.Add(1)) - 1) & 0xffff
		return unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, fanoutArg(mode, id))
	})
	if err != nil {
		return fmt.Errorf("fanout group: %w", err)
	}
	for _, l := range lives[1:] {
		if err := l.control(func(fd int) error {
			return unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, fanoutArg(mode, id))
		}); err != nil {
			return fmt.Errorf("fanout group %d: %w", id, err)
		}
	}
	return nil
}

// control runs fn on the socket's descriptor unless the socket is closed.
func (l *Live) control(fn func(fd int) error) error {
	var ferr error
	if err := l.rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// LinkType returns the link type of the frames this ring delivers:
// LinkEthernet for Ethernet and loopback interfaces, LinkRaw for
// interfaces without a link header (tun, PPP, IP tunnels).
func (l *Live) LinkType() LinkType { return l.link }

// blockReady reports whether the block the reader waits for was handed
// over by the kernel.
func (l *Live) blockReady() bool {
	return l.status(l.blk)&unix.TP_STATUS_USER != 0
}

func (l *Live) status(blk int) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&l.ring[blk*l.blockSize+offBlockStatus])))
}

// Next fills p with the next packet of this ring, waiting for one.
//
// It returns ErrTimeout when no packet arrived within the configured
// timeout (p is then unchanged): the capture goes on, and the caller can
// expire flows on the wall clock before calling Next again. After Stop it
// delivers what the ring still holds, then returns io.EOF. It returns
// io.EOF at once when Close was called, also while Next waits.
//
// p.Data points into the ring: it is valid until the next call to Next or
// Close, and must not be written. Timestamps are the kernel's, in
// microseconds; CapLen is at most the snapshot length; Len is the length
// on the wire (for a packet the fanout reassembled from IPv4 fragments,
// the reassembled length). An 802.1Q tag the kernel took out of an
// Ethernet frame is put back, as libpcap does, so the frame is as it was
// on the wire. Next allocates nothing.
func (l *Live) Next(p *Packet) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lastErr != nil {
		return l.lastErr
	}
	for {
		if l.closed.Load() {
			l.releaseRing()
			return io.EOF
		}
		if l.left > 0 {
			if l.outgoingOnLoopback() {
				l.skip()
				continue
			}
			l.fill(p)
			return nil
		}
		if l.owned {
			// Every packet of the block was delivered and the caller
			// is done with the last: give the block back.
			atomic.StoreUint32((*uint32)(unsafe.Pointer(&l.ring[l.blk*l.blockSize+offBlockStatus])), unix.TP_STATUS_KERNEL)
			l.owned = false
			l.blk = (l.blk + 1) % l.blocks
		}
		if l.blockReady() {
			b := l.ring[l.blk*l.blockSize:]
			l.owned = true
			l.left = *(*uint32)(unsafe.Pointer(&b[offNumPkts]))
			l.pktOff = int(*(*uint32)(unsafe.Pointer(&b[offFirstPkt])))
			continue
		}
		if l.stopping.Load() && time.Now().UnixNano() >= l.drainBy.Load() {
			// Stopped, and the kernel has had the time to hand over
			// the block it was filling: the ring is empty.
			l.lastErr = io.EOF
			return io.EOF
		}
		l.mu.Unlock()
		err := l.wait()
		l.mu.Lock()
		switch {
		case l.closed.Load():
			// Loop: unmap the ring and return io.EOF.
		case errors.Is(err, os.ErrDeadlineExceeded):
			if l.blockReady() || l.stopping.Load() {
				continue
			}
			if err := l.checkDevice(); err != nil {
				l.lastErr = err
				return err
			}
			return ErrTimeout
		case err != nil:
			l.lastErr = fmt.Errorf("capture on %q: %w", l.iface, err)
			return l.lastErr
		}
	}
}

// wait blocks until the kernel hands over the block the reader waits for,
// Close is called, or the timeout passes.
func (l *Live) wait() error {
	deadline := time.Now().Add(l.timeout)
	if l.stopping.Load() {
		deadline = time.Unix(0, min(deadline.UnixNano(), l.drainBy.Load()))
	}
	if err := l.conn.SetReadDeadline(deadline); err != nil {
		return err
	}
	return l.rc.Read(l.ready)
}

// Stop ends the capture without losing what it captured: from now on the
// kernel puts no packet in the ring (the socket's filter rejects them
// all), and Next goes on delivering the packets already there, then
// returns io.EOF. The kernel hands a partly filled block over after the
// block timeout, so the last packets can take up to about twice Timeout
// to come out. Stop may be called from any goroutine, also while Next
// waits; Close is still needed afterwards. This is how SIGINT should end
// a live capture, so that every flow seen so far is exported.
func (l *Live) Stop() error {
	if l.closed.Load() || l.stopping.Load() {
		return nil
	}
	// The kernel retires a block on the first run of its timer (every
	// Timeout) after a full period as the block being filled.
	l.drainBy.Store(time.Now().Add(2*l.timeout + drainMargin).UnixNano())
	err := l.conn.SetBPF(rejectAll)
	l.stopping.Store(true)
	if err != nil {
		return fmt.Errorf("capture on %q: stop: %w", l.iface, err)
	}
	return nil
}

// drainMargin is added to the kernel's block timeout when Stop drains a
// ring, for the timer's slack.
const drainMargin = 50 * time.Millisecond

// checkDevice returns an error when the interface went away: it no
// longer exists, or its name now belongs to a new interface. The socket
// stays bound to the old one, so nothing would ever arrive. An interface
// that is only down pauses the capture: the kernel resumes it when the
// interface comes back up. (libpcap ends the capture in both cases.) The
// lookup goes through the socket, so it is made in the socket's network
// namespace.
func (l *Live) checkDevice() error {
	ifr, err := unix.NewIfreq(l.iface)
	if err != nil {
		return nil
	}
	err = l.control(func(fd int) error { return unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr) })
	switch {
	case errors.Is(err, unix.ENODEV):
		return fmt.Errorf("capture on %q: the interface went away", l.iface)
	case err == nil && int(ifr.Uint32()) != l.ifindex:
		return fmt.Errorf("capture on %q: the interface went away (a new one has its name)", l.iface)
	}
	return nil
}

// fill delivers the packet at l.pktOff of the current block.
func (l *Live) fill(p *Packet) {
	base := l.blk*l.blockSize + l.pktOff
	h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&l.ring[base]))
	start := base + int(h.Mac)
	caplen, wire := h.Snaplen, h.Len
	tagged := h.Status&unix.TP_STATUS_VLAN_VALID != 0 || h.Hv1.Vlan_tci != 0
	if tagged && l.link == LinkEthernet && caplen >= 12 && int(h.Mac) >= tpacket3HdrLen+4 {
		// Put the tag back after the two MAC addresses, in the headroom
		// PACKET_RESERVE keeps before the frame.
		tpid := uint16(vlanTPID)
		if h.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
			tpid = h.Hv1.Vlan_tpid
		}
		tci := uint16(h.Hv1.Vlan_tci)
		start -= 4
		copy(l.ring[start:start+12], l.ring[start+4:start+16])
		l.ring[start+12], l.ring[start+13] = byte(tpid>>8), byte(tpid)
		l.ring[start+14], l.ring[start+15] = byte(tci>>8), byte(tci)
		caplen += 4
		wire += 4
	}
	caplen = min(caplen, l.snaplen)
	p.Sec = int64(h.Sec)
	p.Usec = int64(h.Nsec / 1000)
	p.CapLen = caplen
	p.Len = wire
	p.LinkType = l.link
	p.Data = l.ring[start : start+int(caplen) : start+int(caplen)]
	l.pktOff += int(h.Next_offset)
	l.left--
}

// releaseRing unmaps the ring; mu is held.
func (l *Live) releaseRing() {
	if l.ring != nil {
		l.mem.unmap()
		l.ring = nil
	}
}

// Stats returns the packets the kernel put in this ring or dropped for
// want of room since OpenLive (PACKET_STATISTICS, whose counters reset on
// every read, summed here). received counts every packet that passed the
// filter, dropped ones included, as libpcap's ps_recv does; dropped counts
// those the ring had no room for. After Close it returns the totals read
// when the socket closed.
func (l *Live) Stats() (received, dropped uint64, err error) {
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	if !l.closed.Load() {
		err = l.readStats()
	}
	return l.received, l.dropped, err
}

// readStats adds the kernel's counters to the totals; statsMu is held.
func (l *Live) readStats() error {
	st, err := l.conn.Stats()
	if err != nil {
		return fmt.Errorf("capture on %q: statistics: %w", l.iface, err)
	}
	l.received += uint64(st.Packets)
	l.dropped += uint64(st.Drops)
	return nil
}

// Close ends the capture on this ring and releases the socket. It may be
// called from another goroutine while Next waits: Next then returns
// io.EOF at once. Packets still in the ring are not delivered; call Stop
// first and read to io.EOF to have them. Close reads
// the statistics one last time first, so Stats stays valid afterwards.
//
// The ring's memory goes back to the kernel at once. Since the caller may
// still hold the Data of the last packet, the addresses are not unmapped
// but mapped to zero pages (which take no memory), so a stale Data slice
// reads zeros rather than crashing the program; they are unmapped by the
// next call to Next (which returns io.EOF) or when the Live is garbage
// collected.
func (l *Live) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	l.statsMu.Lock()
	l.readStats()
	l.statsMu.Unlock()
	// Closing the socket wakes a waiting Next and waits until it is out
	// of the poller.
	err := l.conn.Close()
	l.mu.Lock()
	l.mem.mu.Lock()
	if l.mem.b != nil {
		// Map zero pages over the ring: the socket's pages go back to
		// the kernel, and the addresses stay readable.
		addr := uintptr(unsafe.Pointer(&l.ring[0]))
		if _, _, e := unix.Syscall6(unix.SYS_MMAP, addr, uintptr(len(l.ring)), unix.PROT_READ,
			unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED, ^uintptr(0), 0); e != 0 {
			unix.Munmap(l.mem.b)
			l.mem.b, l.ring = nil, nil
		}
	}
	l.mem.mu.Unlock()
	l.mu.Unlock()
	return err
}
