package sysvis

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clock is a settable time for Options.Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// removeLine drops the lines of a net table that contain s.
func removeLine(t *testing.T, path, s string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if !strings.Contains(l, s) {
			keep = append(keep, l)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(keep, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A socket that closed stays attributed to flows that were alive while it
// was seen, for Options.Retain, and only to those.
func TestRetainedOwner(t *testing.T) {
	root := copyTree(t, "testdata/proc")
	clk := &clock{time.UnixMilli(1_000_000)}
	tb := mustNew(t, Options{Root: root, Retain: 10 * time.Second, Now: clk.now})
	mustPoll(t, tb) // curl's 10.0.2.15:54321 -> 93.184.216.34:443 seen at 1,000,000
	clk.t = clk.t.Add(time.Second)
	// curl closes it: gone from the table and from its fds.
	removeLine(t, filepath.Join(root, "net", "tcp"), " 1002 ")
	os.Remove(filepath.Join(root, "100", "fd", "1"))
	mustPoll(t, tb)

	lookup := func(from, to int64) (Owner, bool) {
		o, ok, _, _ := tb.LookupFlow(ProtoTCP, ip("10.0.2.15"), 54321, ip("93.184.216.34"), 443, from, to)
		return o, ok
	}
	if o, ok := tb.Lookup(ProtoTCP, ip("10.0.2.15"), 54321, ip("93.184.216.34"), 443); ok {
		t.Errorf("closed socket still current: %+v", o)
	}
	if o, ok := lookup(999_000, 1_000_500); !ok || o.PID != 100 || o.Name != "curl" {
		t.Errorf("flow alive while the socket was seen: %+v %v, want curl", o, ok)
	}
	if o, ok := lookup(1_000_500, 1_001_000); ok {
		t.Errorf("flow that started after the socket was last seen: %+v", o)
	}
	clk.t = clk.t.Add(10 * time.Second)
	mustPoll(t, tb)
	if o, ok := lookup(0, 2_000_000); ok {
		t.Errorf("owner kept beyond Retain: %+v", o)
	}
}

// A flow between two local processes gives both owners; LookupFlow keeps
// them apart by the end each socket is bound to.
func TestLookupFlowBothEnds(t *testing.T) {
	root := copyTree(t, "testdata/proc")
	// nginx (101) holds 127.0.0.1:8080 <- 127.0.0.1:41000 in tcp6; pid 400
	// gets the client end.
	addSocket(t, root, 400, 5,
		"   7: 0100007F:A028 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 4001 1 0000000000000000 100 0 0 10 0\n")
	tb := mustNew(t, Options{Root: root})
	mustPoll(t, tb)
	now := time.Now().UnixMilli()
	src, srcOK, dst, dstOK := tb.LookupFlow(ProtoTCP, ip("127.0.0.1"), 41000, ip("127.0.0.1"), 8080, now-60_000, now+60_000)
	if !srcOK || src.PID != 400 || !dstOK || dst.PID != 101 || dst.Name != "nginx" {
		t.Errorf("src %+v %v, dst %+v %v; want 400 and 101 nginx", src, srcOK, dst, dstOK)
	}
}

// A PID reused by a new process (another start time), or a process that
// exec'd another program (another comm), is read again when a rescan
// finds it: its sockets get the new name.
func TestPIDReuse(t *testing.T) {
	for _, c := range []struct {
		name  string
		start uint64
	}{{"reused", 7777}, {"exec", 1000}} {
		t.Run(c.name, func(t *testing.T) {
			root := copyTree(t, "testdata/proc")
			tb := mustNew(t, Options{Root: root})
			mustPoll(t, tb)
			// Process 100 (curl, start 1000) is now wget.
			os.WriteFile(filepath.Join(root, "100", "comm"), []byte("wget\n"), 0o644)
			writeStat(t, root, 100, "wget", c.start)
			addSocket(t, root, 100, 9,
				"   6: 0F02000A:AFC9 01010101:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 1006 1 0000000000000000 100 0 0 10 0\n")
			mustPoll(t, tb)
			if o, ok := tb.Lookup(ProtoTCP, ip("10.0.2.15"), 45001, ip("1.1.1.1"), 443); !ok || o.PID != 100 || o.Name != "wget" {
				t.Errorf("socket of the new program: %+v %v, want 100 wget", o, ok)
			}
			if st := tb.Stats(); st.Reused != 1 {
				t.Errorf("Reused = %d, want 1", st.Reused)
			}
		})
	}
}

// Resolve finds the owner of a new flow's socket at once, between polls:
// among the known processes, the last to open a new socket first, then
// among new processes. Lookup then sees it, as after a poll.
func TestResolve(t *testing.T) {
	root := copyTree(t, "testdata/proc")
	tb := mustNew(t, Options{Root: root})
	mustPoll(t, tb)
	ap := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

	// curl (100) opens 10.0.2.15:45001 -> 1.1.1.1:443; the flow is seen
	// from the remote end first.
	addSocket(t, root, 100, 9,
		"   6: 0F02000A:AFC9 01010101:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 1006 1 0000000000000000 100 0 0 10 0\n")
	scans := tb.Stats().FDScans
	if !tb.Resolve(ProtoTCP, ap("1.1.1.1:443"), ap("10.0.2.15:45001")) {
		t.Fatal("Resolve did not find curl's new socket")
	}
	if o, ok := tb.Lookup(ProtoTCP, ip("10.0.2.15"), 45001, ip("1.1.1.1"), 443); !ok || o.PID != 100 {
		t.Errorf("Lookup after Resolve: %+v %v, want pid 100", o, ok)
	}
	// At most the five known processes were read (the youngest first).
	if n := tb.Stats().FDScans - scans; n < 1 || n > 5 {
		t.Errorf("Resolve read %d fd dirs, want 1 to 5", n)
	}

	// curl opens another: it is now read first.
	addSocket(t, root, 100, 10,
		"   7: 0F02000A:AFCA 01010101:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 1007 1 0000000000000000 100 0 0 10 0\n")
	scans = tb.Stats().FDScans
	if !tb.Resolve(ProtoTCP, ap("10.0.2.15:45002"), ap("1.1.1.1:443")) || tb.Stats().FDScans-scans != 1 {
		t.Errorf("second socket of curl: %d fd dirs read, want 1", tb.Stats().FDScans-scans)
	}

	// A process not seen before.
	mkProc(t, root, 600, "wget", "socket:[1008]")
	appendLine(t, filepath.Join(root, "net", "tcp"),
		"   8: 0F02000A:AFCB 01010101:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 1008 1 0000000000000000 100 0 0 10 0\n")
	if !tb.Resolve(ProtoTCP, ap("10.0.2.15:45003"), ap("1.1.1.1:443")) {
		t.Error("Resolve did not find the socket of a new process")
	}
	if o, ok := tb.Lookup(ProtoTCP, ip("10.0.2.15"), 45003, ip("1.1.1.1"), 443); !ok || o.PID != 600 || o.Name != "wget" {
		t.Errorf("new process: %+v %v", o, ok)
	}

	// A flow with no socket.
	if tb.Resolve(ProtoTCP, ap("10.0.2.15:45999"), ap("1.1.1.1:443")) {
		t.Error("Resolve found a socket that does not exist")
	}
}

// One pass of lookups at new flows reads each fd dir at most once, however
// many of its flows have sockets no process is found to hold.
func TestResolveReadsOnce(t *testing.T) {
	root := copyTree(t, "testdata/proc")
	tb := mustNew(t, Options{Root: root})
	mustPoll(t, tb)
	procs := uint64(tb.Stats().Procs)
	tcp := filepath.Join(root, "net", "tcp")
	appendLine(t, tcp, "   8: 0F02000A:AFD0 01010101:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 5001 1 0000000000000000 100 0 0 10 0\n")
	appendLine(t, tcp, "   9: 0F02000A:AFD1 01010101:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 5002 1 0000000000000000 100 0 0 10 0\n")
	ap := netip.MustParseAddrPort
	scans := tb.Stats().FDScans
	flows := []sockKey{
		{ProtoTCP, ap("10.0.2.15:45008"), ap("1.1.1.1:443")},
		{ProtoTCP, ap("1.1.1.1:443"), ap("10.0.2.15:45009")},
	}
	if n := tb.resolve(flows); n != 0 {
		t.Errorf("resolve found %d flows whose sockets no process holds", n)
	}
	if n := tb.Stats().FDScans - scans; n == 0 || n > procs {
		t.Errorf("resolve read %d fd dirs for two unowned sockets, want 1 to %d", n, procs)
	}
	// A poll gives up on them (orphans): lookups no longer search for them.
	mustPoll(t, tb)
	if st := tb.Stats(); st.Unowned != 3 {
		t.Fatalf("Unowned = %d, want 3 (the fixture's orphan and these two)", st.Unowned)
	}
	scans = tb.Stats().FDScans
	if n := tb.resolve(flows); n != 0 || tb.Stats().FDScans != scans {
		t.Errorf("resolve of orphans: %d found, %d fd dirs read; want 0 and 0", n, tb.Stats().FDScans-scans)
	}
}

// A process that the lookup at a new flow finds while a poll reads the new
// processes, after the poll listed them, is not taken for dead by that
// poll: it stays known, first to be read for its next socket.
func TestResolveDuringPoll(t *testing.T) {
	root := copyTree(t, "testdata/proc")
	tb := mustNew(t, Options{Root: root})
	mustPoll(t, tb)
	mkProc(t, root, 700, "sleep") // new: the next poll reads it without the lock
	ap := netip.MustParseAddrPort
	resolved := false
	tb.beforeFDScan = func(pid int) {
		if pid != 700 || resolved {
			return
		}
		resolved = true
		// wget starts and connects after the poll listed the processes.
		mkProc(t, root, 600, "wget", "socket:[1008]")
		appendLine(t, filepath.Join(root, "net", "tcp"),
			"   8: 0F02000A:AFCB 01010101:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 1008 1 0000000000000000 100 0 0 10 0\n")
		if !tb.Resolve(ProtoTCP, ap("10.0.2.15:45003"), ap("1.1.1.1:443")) {
			t.Error("Resolve did not find wget's socket")
		}
	}
	mustPoll(t, tb)
	if !resolved {
		t.Fatal("the poll did not read the new process")
	}
	if _, ok := tb.procs[600]; !ok {
		t.Error("the poll dropped the process the lookup had just found")
	}
	addSocket(t, root, 600, 1,
		"   9: 0F02000A:AFCC 01010101:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 1009 1 0000000000000000 100 0 0 10 0\n")
	scans := tb.Stats().FDScans
	if !tb.Resolve(ProtoTCP, ap("10.0.2.15:45004"), ap("1.1.1.1:443")) || tb.Stats().FDScans-scans != 1 {
		t.Errorf("wget's second socket: %d fd dirs read, want 1", tb.Stats().FDScans-scans)
	}
}
