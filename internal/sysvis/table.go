package sysvis

import (
	"bufio"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/procfs"
)

// Protocol numbers used in keys (IANA), the same reduction as the flow key.
const (
	ProtoTCP uint8 = 6
	ProtoUDP uint8 = 17
)

// Owner is the process that owns a socket.
type Owner struct {
	PID  int
	Name string // /proc/<pid>/comm
	// Optional fields, filled only when enabled in Options.
	UID     int      // real uid from /proc/<pid>/status; -1 if unknown or not requested
	Exe     string   // /proc/<pid>/exe target
	Cmdline []string // /proc/<pid>/cmdline

	start uint64 // the process's start time: with PID, its identity
}

// Options configures a Table.
type Options struct {
	// Root is the proc mount point; "" means /proc. The socket tables are read
	// from Root/net/{tcp,tcp6,udp,udp6}, i.e. the network namespace of the
	// process that owns Root/self (the capturing process for /proc).
	Root string
	// WithUID, WithExe and WithCmdline read the optional Owner fields.
	WithUID     bool
	WithExe     bool
	WithCmdline bool
	// LocalAddrs are addresses of the capturing host (e.g. the interface's).
	// A socket bound to the wildcard address matches a flow endpoint only if
	// its address is local: one of these, a local address of any socket in
	// the tables, loopback, multicast or broadcast.
	LocalAddrs []netip.Addr
	// Retain is how long a socket's owner stays known after the socket
	// left the tables, so a flow exported after its socket closed is still
	// attributed (0: only the sockets of the last poll are known).
	Retain time.Duration
	// Now is the clock of the socket times (nil: time.Now).
	Now func() time.Time
}

// Stats are cumulative counters since the Table was created.
type Stats struct {
	Polls          uint64 // completed Poll calls
	Sockets        int    // sockets in the tables after the last poll
	Procs          int    // live processes known after the last poll
	MalformedLines uint64 // net table lines skipped because they did not parse
	ProcErrors     uint64 // processes skipped: vanished, permission denied, unreadable
	FDScans        uint64 // process fd directories read (new and rescanned processes)
	LastFDScans    int    // fd directories read by the last poll
	Unowned        int    // sockets with inode != 0 and no owner after the last poll
	Retained       int    // owners known after the last poll, sockets gone included
	Reused         uint64 // processes found to be new under a known PID, or to have exec'd
}

type sockKey struct {
	proto  uint8
	local  netip.AddrPort
	remote netip.AddrPort
}

// seen is a socket's owner and when polls saw the socket with that owner
// (Unix ms; gen is the generation of the last poll that saw it).
type seen struct {
	owner       Owner
	first, last int64
	gen         uint64
}

type procInfo struct {
	owner  Owner
	inodes []uint64 // socket inodes found in its fd dir at the last scan
	fdSize int64    // size of the fd dir at the last scan (= open fds on Linux >= 6.2, else 0)
	fdMod  int64    // its mtime (UnixNano): static on procfs, changes in fixture trees
	// seen is the poll generation in which the pid was last listed, or
	// the next one's when a lookup between polls found it.
	seen uint64
	// lastNew is the generation in which a rescan last found it owning a
	// socket not known before.
	lastNew uint64
}

// Table maps sockets of the capturing host to their owning processes. Poll
// refreshes it; Lookup may be called concurrently with Poll.
type Table struct {
	opt  Options
	root string
	fs   procfs.FS

	mu      sync.RWMutex
	sockets map[sockKey]uint64 // 5-tuple -> inode
	locals  map[netip.Addr]struct{}
	owners  map[uint64]int // socket inode -> pid
	procs   map[int]*procInfo
	orphans map[uint64]uint64 // inode -> generation; unowned after a full rescan
	history map[sockKey]*seen // owned sockets, current and retained

	// pollMu serializes Polls; spare and spareLocals are the maps the next
	// Poll reads into without the lock (the last ones swapped out).
	pollMu      sync.Mutex
	spare       map[sockKey]uint64
	spareLocals map[netip.Addr]struct{}
	gen         uint64
	pollMS      int64 // time of the last poll
	stats       Stats

	// beforeFDScan, if set, runs just before a process's fd dir is read (tests).
	beforeFDScan func(pid int)
}

// New opens the proc tree at opt.Root (default /proc).
func New(opt Options) (*Table, error) {
	root := opt.Root
	if root == "" {
		root = procfs.DefaultMountPoint
	}
	pfs, err := procfs.NewFS(root)
	if err != nil {
		return nil, err
	}
	return &Table{
		opt:         opt,
		root:        root,
		fs:          pfs,
		sockets:     make(map[sockKey]uint64),
		locals:      make(map[netip.Addr]struct{}),
		owners:      make(map[uint64]int),
		procs:       make(map[int]*procInfo),
		orphans:     make(map[uint64]uint64),
		history:     make(map[sockKey]*seen),
		spare:       make(map[sockKey]uint64),
		spareLocals: make(map[netip.Addr]struct{}),
	}, nil
}

// Stats returns a copy of the counters.
func (t *Table) Stats() Stats {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.stats
}

// Lookup returns the owner of the socket carrying a packet or flow with the
// given 5-tuple, in either direction, among the sockets of the last poll.
// proto is 6 (TCP) or 17 (UDP). A connected socket must match exactly; an
// unconnected UDP socket (zero remote) matches any remote, including a
// socket bound to the wildcard address.
func (t *Table) Lookup(proto uint8, srcIP netip.Addr, srcPort uint16, dstIP netip.Addr, dstPort uint16) (Owner, bool) {
	src := netip.AddrPortFrom(srcIP.Unmap(), srcPort)
	dst := netip.AddrPortFrom(dstIP.Unmap(), dstPort)
	t.mu.RLock()
	defer t.mu.RUnlock()
	w := window{gen: t.gen}
	if o, ok := t.lookupKey(sockKey{proto, src, dst}, w); ok {
		return o, true
	}
	if o, ok := t.lookupKey(sockKey{proto, dst, src}, w); ok {
		return o, true
	}
	if proto != ProtoUDP {
		return Owner{}, false
	}
	for _, local := range [2]netip.AddrPort{src, dst} {
		if o, ok := t.lookupUnconnected(local, w); ok {
			return o, true
		}
	}
	return Owner{}, false
}

// LookupFlow returns the owners of a flow's two ends among the sockets
// polls saw from fromMS to toMS (Unix ms), those that left the tables
// within Options.Retain included: srcOwner owns the socket whose local
// end is src (the flow's source), dstOwner the one whose local end is dst.
// Both are found when the two ends are local processes.
func (t *Table) LookupFlow(proto uint8, srcIP netip.Addr, srcPort uint16, dstIP netip.Addr, dstPort uint16, fromMS, toMS int64) (srcOwner Owner, srcOK bool, dstOwner Owner, dstOK bool) {
	src := netip.AddrPortFrom(srcIP.Unmap(), srcPort)
	dst := netip.AddrPortFrom(dstIP.Unmap(), dstPort)
	w := window{from: fromMS, to: toMS}
	t.mu.RLock()
	defer t.mu.RUnlock()
	srcOwner, srcOK = t.endOwner(proto, src, dst, w)
	dstOwner, dstOK = t.endOwner(proto, dst, src, w)
	return srcOwner, srcOK, dstOwner, dstOK
}

// endOwner returns the owner of the socket at local that carried traffic
// to remote: the connected socket, else an unconnected UDP one.
func (t *Table) endOwner(proto uint8, local, remote netip.AddrPort, w window) (Owner, bool) {
	if o, ok := t.lookupKey(sockKey{proto, local, remote}, w); ok {
		return o, true
	}
	if proto != ProtoUDP {
		return Owner{}, false
	}
	return t.lookupUnconnected(local, w)
}

// window is a span of Unix ms in which a socket must have been seen, or
// with gen != 0 the poll generation that must have seen it.
type window struct {
	from, to int64
	gen      uint64
}

func (t *Table) lookupUnconnected(local netip.AddrPort, w window) (Owner, bool) {
	zero4 := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	zero6 := netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
	zero := zero4
	if local.Addr().Is6() {
		zero = zero6
	}
	if o, ok := t.lookupKey(sockKey{ProtoUDP, local, zero}, w); ok {
		return o, true
	}
	// Wildcard-bound sockets: 0.0.0.0:port, or [::]:port which also receives
	// IPv4 unless IPV6_V6ONLY is set.
	if !t.isLocal(local.Addr()) {
		return Owner{}, false
	}
	port := local.Port()
	if local.Addr().Is4() {
		if o, ok := t.lookupKey(sockKey{ProtoUDP, netip.AddrPortFrom(netip.IPv4Unspecified(), port), zero4}, w); ok {
			return o, true
		}
	}
	return t.lookupKey(sockKey{ProtoUDP, netip.AddrPortFrom(netip.IPv6Unspecified(), port), zero6}, w)
}

// involvesLocal reports whether an end of k has a local address.
func (t *Table) involvesLocal(k sockKey) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.isLocal(k.local.Addr()) || t.isLocal(k.remote.Addr())
}

func (t *Table) isLocal(a netip.Addr) bool {
	if a.IsLoopback() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	_, ok := t.locals[a]
	return ok
}

func (t *Table) lookupKey(k sockKey, w window) (Owner, bool) {
	h, ok := t.history[k]
	if !ok || (w.gen != 0 && h.gen != w.gen) || (w.gen == 0 && (h.first > w.to || h.last < w.from)) {
		return Owner{}, false
	}
	return h.owner, true
}

// Poll re-reads the socket tables and updates the socket -> process mapping.
// Only new processes have their fd dirs read, plus, when a socket appears
// whose inode has no known owner, the known processes (socket owners first)
// until every new inode is found. Per-process and per-line failures are
// counted in Stats and skipped; an error is returned only when the process
// list itself cannot be read.
func (t *Table) Poll() error {
	// The slow part, reading the tables and the processes not known yet,
	// is done without the lock, so Lookup and Resolve go on meanwhile.
	t.pollMu.Lock()
	defer t.pollMu.Unlock()
	sockets, locals := t.spare, t.spareLocals
	clear(sockets)
	clear(locals)
	for _, a := range t.opt.LocalAddrs {
		locals[a.Unmap()] = struct{}{}
	}
	var errs, malformed uint64
	for _, f := range [...]struct {
		name  string
		proto uint8
	}{{"tcp", ProtoTCP}, {"tcp6", ProtoTCP}, {"udp", ProtoUDP}, {"udp6", ProtoUDP}} {
		m, e := readNetTable(filepath.Join(t.root, "net", f.name), f.proto, sockets, locals)
		malformed, errs = malformed+m, errs+e
	}
	procs, err := t.fs.AllProcs()
	if err != nil {
		return err
	}
	t.mu.RLock()
	var fresh []procfs.Proc
	for _, p := range procs {
		if _, ok := t.procs[p.PID]; !ok {
			fresh = append(fresh, p)
		}
	}
	t.mu.RUnlock()
	read := make(map[int]*procInfo, len(fresh))
	for _, p := range fresh {
		if pi, ok := t.readProc(p); ok {
			read[p.PID] = pi
		} else {
			errs++
		}
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	t.gen++
	gen := t.gen
	scans := len(read)
	t.stats.ProcErrors += errs
	t.stats.MalformedLines += malformed
	t.spare, t.spareLocals = t.sockets, t.locals
	t.sockets, t.locals = sockets, locals
	for _, p := range procs {
		if pi, ok := t.procs[p.PID]; ok {
			pi.seen = gen // known, or found meanwhile by Resolve
			continue
		}
		if pi, ok := read[p.PID]; ok {
			t.addProc(p.PID, pi, gen)
		}
	}
	// Drop dead processes and their inodes.
	for pid, pi := range t.procs {
		if pi.seen != gen {
			t.dropProc(pid, pi)
		}
	}

	// Inodes in the tables with no known owner and not already given up on.
	var unknown map[uint64]struct{}
	for _, ino := range t.sockets {
		if ino == 0 {
			continue
		}
		if _, ok := t.owners[ino]; ok {
			continue
		}
		if _, ok := t.orphans[ino]; ok {
			t.orphans[ino] = gen
			continue
		}
		if unknown == nil {
			unknown = make(map[uint64]struct{})
		}
		unknown[ino] = struct{}{}
	}
	if len(unknown) > 0 {
		// Rescan known processes, those already owning sockets first, and
		// stop as soon as every unknown inode has an owner.
		pids := make([]int, 0, len(t.procs))
		for pid, pi := range t.procs {
			if pi.seen == gen {
				pids = append(pids, pid)
			}
		}
		// Priority: 0 = its fd dir changed since the last scan (size = open
		// fds on Linux >= 6.2; mtime for fixture trees), 1 = already owns
		// sockets, 2 = the rest. The hint only orders the rescan.
		prio := make(map[int]int, len(pids))
		for _, pid := range pids {
			pi := t.procs[pid]
			pr := 2
			if len(pi.inodes) > 0 {
				pr = 1
			}
			if fi, err := os.Stat(filepath.Join(t.root, strconv.Itoa(pid), "fd")); err == nil &&
				(fi.Size() != pi.fdSize || fi.ModTime().UnixNano() != pi.fdMod) {
				pr = 0
			}
			prio[pid] = pr
		}
		// Within a priority, the processes that last opened a new socket
		// come first: a client making many connections is found at once.
		sort.Slice(pids, func(i, j int) bool {
			if a, b := prio[pids[i]], prio[pids[j]]; a != b {
				return a < b
			}
			if a, b := t.procs[pids[i]].lastNew, t.procs[pids[j]].lastNew; a != b {
				return a > b
			}
			return pids[i] < pids[j]
		})
		scans += t.rescanFor(pids, unknown, gen)
		for ino := range unknown {
			t.orphans[ino] = gen
		}
	}
	// Forget orphans no longer in the tables.
	unowned := 0
	for ino, g := range t.orphans {
		if g != gen {
			delete(t.orphans, ino)
		} else {
			unowned++
		}
	}

	t.remember()

	t.stats.Polls++
	t.stats.Sockets = len(t.sockets)
	t.stats.Procs = len(t.procs)
	t.stats.FDScans += uint64(scans)
	t.stats.LastFDScans = scans
	t.stats.Unowned = unowned
	return nil
}

// remember records the owner of every owned socket of this poll in the
// history and forgets the sockets gone for longer than Options.Retain.
func (t *Table) remember() {
	ms := t.now()
	if ms < t.pollMS {
		ms = t.pollMS // a clock step back: times stay ordered
	}
	t.pollMS = ms
	for k, ino := range t.sockets {
		if ino == 0 {
			continue
		}
		if pid, ok := t.owners[ino]; ok {
			t.see(k, pid, ms)
		}
	}
	keep := ms - t.opt.Retain.Milliseconds()
	for k, h := range t.history {
		if h.gen != t.gen && h.last < keep {
			delete(t.history, k)
		}
	}
	t.stats.Retained = len(t.history)
}

// see records in the history that socket k was seen owned by pid at ms.
func (t *Table) see(k sockKey, pid int, ms int64) {
	pi := t.procs[pid]
	if h, ok := t.history[k]; ok && h.owner.PID == pid && h.owner.start == pi.owner.start {
		h.last, h.gen = ms, t.gen
		return
	}
	t.history[k] = &seen{owner: pi.owner, first: ms, last: ms, gen: t.gen}
}

// now is the time of the socket history.
func (t *Table) now() int64 {
	if t.opt.Now != nil {
		return t.opt.Now().UnixMilli()
	}
	return time.Now().UnixMilli()
}

// Resolve looks up at once the connected sockets of a new flow, src to
// dst in either direction, without a whole poll: it reads the tables of
// the flow's protocol and, for a socket whose inode has no known owner
// and that the last poll did not give up on (an orphan), the fd dirs of
// the processes most likely to hold it: those that last opened a new
// socket, then the youngest, then processes not seen before. It stops
// when the owner is found, records it as a poll would, and reports
// whether a socket of the flow was found with its owner. What it misses
// is left to the next Poll.
func (t *Table) Resolve(proto uint8, src, dst netip.AddrPort) bool {
	return t.resolve([]sockKey{{proto, src, dst}}) == 1
}

// resolve is Resolve for several flows (k.local is the flow's source); it
// returns how many were found. The owners of all the flows are searched
// together, so each fd dir is read at most once.
func (t *Table) resolve(flows []sockKey) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	var read [2][2]bool // [udp][ipv6] tables read
	for _, f := range flows {
		name, u := "tcp", 0
		if f.proto == ProtoUDP {
			name, u = "udp", 1
		}
		for v6, file := range [2]string{name, name + "6"} { // tcp6/udp6 also hold IPv4-mapped sockets
			if read[u][v6] || (v6 == 0 && !f.local.Addr().Unmap().Is4()) {
				continue
			}
			m, e := readNetTable(filepath.Join(t.root, "net", file), f.proto, t.sockets, t.locals)
			t.stats.MalformedLines, t.stats.ProcErrors = t.stats.MalformedLines+m, t.stats.ProcErrors+e
			read[u][v6] = true
		}
	}
	keys := make([][2]sockKey, len(flows))
	var unknown map[uint64]struct{}
	for i, f := range flows {
		src := netip.AddrPortFrom(f.local.Addr().Unmap(), f.local.Port())
		dst := netip.AddrPortFrom(f.remote.Addr().Unmap(), f.remote.Port())
		keys[i] = [2]sockKey{{f.proto, src, dst}, {f.proto, dst, src}}
		for _, k := range keys[i] {
			ino := t.sockets[k]
			if ino == 0 {
				continue
			}
			_, owned := t.owners[ino]
			_, gaveUp := t.orphans[ino]
			if !owned && !gaveUp {
				if unknown == nil {
					unknown = make(map[uint64]struct{})
				}
				unknown[ino] = struct{}{}
			}
		}
	}
	if len(unknown) > 0 {
		t.findOwners(unknown)
	}
	ms := max(t.now(), t.pollMS)
	found := 0
	for _, ks := range keys {
		ok := false
		for _, k := range ks {
			ino := t.sockets[k]
			if ino == 0 {
				continue
			}
			if pid, owned := t.owners[ino]; owned {
				t.see(k, pid, ms)
				ok = true
			}
		}
		if ok {
			found++
		}
	}
	return found
}

// findOwners reads fd dirs until every inode of unknown has an owner or
// every process was read (see Resolve); it deletes the inodes it finds.
func (t *Table) findOwners(unknown map[uint64]struct{}) {
	pids := make([]int, 0, len(t.procs))
	for pid := range t.procs {
		pids = append(pids, pid)
	}
	sort.Slice(pids, func(i, j int) bool {
		a, b := t.procs[pids[i]], t.procs[pids[j]]
		if a.lastNew != b.lastNew {
			return a.lastNew > b.lastNew
		}
		if a.owner.start != b.owner.start {
			return a.owner.start > b.owner.start
		}
		return pids[i] < pids[j]
	})
	t.stats.FDScans += uint64(t.rescanFor(pids, unknown, t.gen+1))
	if len(unknown) == 0 {
		return
	}
	procs, err := t.fs.AllProcs()
	if err != nil {
		return
	}
	for _, p := range procs {
		if len(unknown) == 0 {
			return
		}
		if _, ok := t.procs[p.PID]; ok {
			continue
		}
		pi, ok := t.readProc(p)
		if !ok {
			t.stats.ProcErrors++
			continue
		}
		t.stats.FDScans++
		// Listed as by the next poll: one under way listed the processes
		// before this one, and must not take it for dead.
		t.addProc(p.PID, pi, t.gen+1)
		t.found(pi, unknown, t.gen+1)
	}
}

// rescanFor rescans the known processes pids, in order, until every
// inode of unknown has an owner. It returns how many fd dirs it read.
func (t *Table) rescanFor(pids []int, unknown map[uint64]struct{}, gen uint64) int {
	scans := 0
	for _, pid := range pids {
		if len(unknown) == 0 {
			break
		}
		pi, ok := t.procs[pid]
		if !ok {
			continue
		}
		p, err := t.fs.Proc(pid)
		if err != nil {
			t.stats.ProcErrors++
			t.dropProc(pid, pi)
			continue
		}
		scans++
		if !t.rescan(p, pi) {
			t.dropProc(pid, pi)
			continue
		}
		t.found(pi, unknown, gen)
	}
	return scans
}

// found deletes from unknown the inodes pi holds, and marks pi as having
// opened a new socket in generation gen if it held one.
func (t *Table) found(pi *procInfo, unknown map[uint64]struct{}, gen uint64) {
	for _, ino := range pi.inodes {
		if _, ok := unknown[ino]; ok {
			pi.lastNew = gen
			delete(unknown, ino)
		}
	}
}

// addProc makes pi, read by readProc, the known process pid, listed by
// the poll of generation gen, and links the inodes it holds.
func (t *Table) addProc(pid int, pi *procInfo, gen uint64) {
	pi.seen = gen
	t.procs[pid] = pi
	t.link(pid, pi, nil)
}

// dropProc forgets a process and the inodes it owned.
func (t *Table) dropProc(pid int, pi *procInfo) {
	for _, ino := range pi.inodes {
		if t.owners[ino] == pid {
			delete(t.owners, ino)
		}
	}
	delete(t.procs, pid)
}

// rescan reads a known process's fd dir again into pi.inodes and links
// them. A process that reused the PID (another start time) or exec'd
// (another comm) is read as a new one, and the inodes of the old one are
// forgotten. It returns false, counting a ProcErrors, when the process
// vanished or cannot be read.
func (t *Table) rescan(p procfs.Proc, pi *procInfo) bool {
	start, err := startTime(p)
	if err != nil {
		t.stats.ProcErrors++
		return false
	}
	if start != pi.owner.start || t.execed(p, pi) {
		t.stats.Reused++
		for _, ino := range pi.inodes {
			if t.owners[ino] == p.PID {
				delete(t.owners, ino)
			}
		}
		pi.inodes = pi.inodes[:0]
		// Identity first, so a process that cannot be read leaves no inodes.
		if pi.owner, err = t.identity(p, start); err != nil {
			t.stats.ProcErrors++
			return false
		}
	}
	old := append([]uint64(nil), pi.inodes...)
	if err := t.readFDs(p, pi); err != nil {
		t.stats.ProcErrors++
		return false
	}
	t.link(p.PID, pi, old)
	return true
}

// readProc reads a process not known yet; it touches nothing shared, so
// Poll calls it without the lock.
func (t *Table) readProc(p procfs.Proc) (*procInfo, bool) {
	start, err := startTime(p)
	if err != nil {
		return nil, false
	}
	pi := &procInfo{}
	if pi.owner, err = t.identity(p, start); err != nil {
		return nil, false
	}
	if err := t.readFDs(p, pi); err != nil {
		return nil, false
	}
	return pi, true
}

// identity reads who process p is.
func (t *Table) identity(p procfs.Proc, start uint64) (Owner, error) {
	name, err := p.Comm()
	if err != nil {
		return Owner{}, err
	}
	o := Owner{PID: p.PID, Name: name, UID: -1, start: start}
	if t.opt.WithUID {
		if st, err := p.NewStatus(); err == nil {
			o.UID = int(st.UIDs[0])
		}
	}
	if t.opt.WithExe {
		o.Exe, _ = p.Executable()
	}
	if t.opt.WithCmdline {
		o.Cmdline, _ = p.CmdLine()
	}
	return o, nil
}

// readFDs reads the socket inodes of p's fd dir into pi.inodes.
func (t *Table) readFDs(p procfs.Proc, pi *procInfo) error {
	if t.beforeFDScan != nil {
		t.beforeFDScan(p.PID)
	}
	if fi, err := os.Stat(filepath.Join(t.root, strconv.Itoa(p.PID), "fd")); err == nil {
		pi.fdSize, pi.fdMod = fi.Size(), fi.ModTime().UnixNano()
	}
	targets, err := p.FileDescriptorTargets()
	if err != nil {
		return err
	}
	pi.inodes = pi.inodes[:0]
	for _, tg := range targets {
		if ino, ok := socketInode(tg); ok {
			pi.inodes = append(pi.inodes, ino)
		}
	}
	return nil
}

// link makes pid the owner of the inodes in pi.inodes, and no longer of
// those in old it does not hold any more.
func (t *Table) link(pid int, pi *procInfo, old []uint64) {
	if len(old) > 0 {
		held := make(map[uint64]struct{}, len(pi.inodes))
		for _, ino := range pi.inodes {
			held[ino] = struct{}{}
		}
		for _, ino := range old {
			if _, ok := held[ino]; !ok && t.owners[ino] == pid {
				delete(t.owners, ino)
			}
		}
	}
	for _, ino := range pi.inodes {
		// Shared sockets (fork, fd passing) keep their first-found owner
		// while it lives.
		if cur, ok := t.owners[ino]; ok && cur != pid {
			if _, live := t.procs[cur]; live {
				continue
			}
		}
		t.owners[ino] = pid
	}
}

// execed reports whether a known process now runs another program (exec
// keeps the PID and the start time, and changes comm).
func (t *Table) execed(p procfs.Proc, pi *procInfo) bool {
	name, err := p.Comm()
	return err == nil && name != pi.owner.Name
}

// startTime reads the process's start time (field 22 of /proc/<pid>/stat).
func startTime(p procfs.Proc) (uint64, error) {
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	return st.Starttime, nil
}

// socketInode parses "socket:[12345]".
func socketInode(target string) (uint64, bool) {
	const pre = "socket:["
	if !strings.HasPrefix(target, pre) || !strings.HasSuffix(target, "]") {
		return 0, false
	}
	n, err := strconv.ParseUint(target[len(pre):len(target)-1], 10, 64)
	return n, err == nil
}

// readNetTable adds the sockets of one /proc/net/{tcp,udp}{,6} file to
// sockets, and their local addresses to locals. A missing file (e.g. no
// IPv6) is not an error; it returns the lines that did not parse and
// whether the file could not be read (0 or 1).
func readNetTable(path string, proto uint8, sockets map[sockKey]uint64, locals map[netip.Addr]struct{}) (malformed, errs uint64) {
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			errs++
		}
		return malformed, errs
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 0, 64*1024), 1<<20)
	first := true
	for s.Scan() {
		if first {
			first = false
			continue
		}
		k, ino, ok := parseNetLine(s.Bytes(), proto)
		if !ok {
			malformed++
			continue
		}
		sockets[k] = ino
		if a := k.local.Addr(); !a.IsUnspecified() {
			locals[a] = struct{}{}
		}
	}
	if s.Err() != nil {
		malformed++
	}
	return malformed, errs
}

// parseNetLine parses "sl local rem st tx:rx tr:when retr uid timeout inode ...".
func parseNetLine(line []byte, proto uint8) (sockKey, uint64, bool) {
	var fields [10][]byte
	n := 0
	for i := 0; i < len(line) && n < len(fields); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if j > i {
			fields[n] = line[i:j]
			n++
		}
		i = j
	}
	if n < 10 {
		return sockKey{}, 0, false
	}
	local, ok1 := parseHexAddrPort(fields[1])
	remote, ok2 := parseHexAddrPort(fields[2])
	ino, err := strconv.ParseUint(string(fields[9]), 10, 64)
	if !ok1 || !ok2 || err != nil {
		return sockKey{}, 0, false
	}
	if local.Addr().Is4() != remote.Addr().Is4() {
		// An IPv4-mapped local address with a "::" remote (tcp6/udp6).
		if !remote.Addr().IsUnspecified() || !local.Addr().Is4() {
			return sockKey{}, 0, false
		}
		remote = netip.AddrPortFrom(netip.IPv4Unspecified(), remote.Port())
	}
	return sockKey{proto, local, remote}, ino, true
}

// parseHexAddrPort parses the kernel's "0100007F:0035" (IPv4, one host-order
// 32-bit word) or 32 hex digits (IPv6, four host-order words). The kernel
// prints the words in host order; this assumes a little-endian host, as on
// amd64 and arm64. IPv4-mapped IPv6 addresses are unmapped.
func parseHexAddrPort(b []byte) (netip.AddrPort, bool) {
	colon := -1
	for i, c := range b {
		if c == ':' {
			colon = i
			break
		}
	}
	if colon < 0 {
		return netip.AddrPort{}, false
	}
	hexIP, hexPort := b[:colon], b[colon+1:]
	if len(hexPort) == 0 || len(hexPort) > 4 {
		return netip.AddrPort{}, false
	}
	port, ok := hexUint(hexPort)
	if !ok {
		return netip.AddrPort{}, false
	}
	var addr netip.Addr
	switch len(hexIP) {
	case 8:
		w, ok := hexUint(hexIP)
		if !ok {
			return netip.AddrPort{}, false
		}
		addr = netip.AddrFrom4([4]byte{byte(w), byte(w >> 8), byte(w >> 16), byte(w >> 24)})
	case 32:
		var a [16]byte
		for k := 0; k < 4; k++ {
			w, ok := hexUint(hexIP[k*8 : k*8+8])
			if !ok {
				return netip.AddrPort{}, false
			}
			a[k*4], a[k*4+1], a[k*4+2], a[k*4+3] = byte(w), byte(w>>8), byte(w>>16), byte(w>>24)
		}
		addr = netip.AddrFrom16(a).Unmap()
	default:
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(addr, uint16(port)), true
}

func hexUint(b []byte) (uint32, bool) {
	var v uint32
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint32(d)
	}
	return v, true
}
