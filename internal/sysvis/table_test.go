package sysvis

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// copyTree copies testdata/proc into a temp dir, keeping symlinks as symlinks.
func copyTree(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "proc")
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			tg, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(tg, out)
		case fi.IsDir():
			return os.MkdirAll(out, 0o755)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(out, b, 0o644)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// mustNew opens a Table, failing the test if it cannot.
func mustNew(t testing.TB, opt Options) *Table {
	t.Helper()
	tb, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func mustPoll(t testing.TB, tb *Table) {
	t.Helper()
	if err := tb.Poll(); err != nil {
		t.Fatal(err)
	}
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestFixtureLookup(t *testing.T) {
	tb := mustNew(t, Options{Root: "testdata/proc", WithUID: true, WithExe: true, WithCmdline: true})
	mustPoll(t, tb)

	cases := []struct {
		name     string
		proto    uint8
		src      string
		sport    uint16
		dst      string
		dport    uint16
		wantPID  int
		wantName string
	}{
		{"tcp4 connected, outbound", ProtoTCP, "10.0.2.15", 54321, "93.184.216.34", 443, 100, "curl"},
		{"tcp4 connected, reverse direction", ProtoTCP, "93.184.216.34", 443, "10.0.2.15", 54321, 100, "curl"},
		{"tcp6 connected", ProtoTCP, "2001:db8::2", 50000, "2001:db8::1", 443, 100, "curl"},
		{"tcp6 v4-mapped connected", ProtoTCP, "127.0.0.1", 41000, "127.0.0.1", 8080, 101, "nginx"},
		{"udp4 connected", ProtoUDP, "10.0.2.15", 40000, "8.8.8.8", 53, 200, "systemd-resolve"},
		{"udp4 unconnected wildcard, any remote", ProtoUDP, "192.168.1.7", 33333, "10.0.2.15", 53, 200, "systemd-resolve"},
		{"udp6 unconnected [::] matches v6", ProtoUDP, "fe80::1", 5353, "ff02::fb", 5353, 300, "avahi-daemon"},
		{"udp6 unconnected [::] matches v4", ProtoUDP, "192.168.1.9", 5353, "224.0.0.251", 5353, 300, "avahi-daemon"},
		{"udp4 wildcard needs a local address", ProtoUDP, "10.0.2.15", 40001, "8.8.8.8", 53, 0, ""},
		{"tcp listener does not match foreign remote", ProtoTCP, "10.0.2.15", 80, "10.9.9.9", 1234, 0, ""},
		{"wrong protocol", ProtoUDP, "10.0.2.15", 54321, "93.184.216.34", 443, 0, ""},
		{"orphan inode (no owner)", ProtoTCP, "10.0.2.15", 45000, "1.1.1.1", 443, 0, ""},
		{"time-wait inode 0", ProtoTCP, "10.0.2.15", 22, "10.0.2.2", 50000, 0, ""},
	}
	for _, c := range cases {
		o, ok := tb.Lookup(c.proto, ip(c.src), c.sport, ip(c.dst), c.dport)
		if ok != (c.wantPID != 0) || o.PID != c.wantPID || o.Name != c.wantName {
			t.Errorf("%s: got %+v %v, want pid %d %q", c.name, o, ok, c.wantPID, c.wantName)
		}
	}

	o, _ := tb.Lookup(ProtoTCP, ip("10.0.2.15"), 54321, ip("93.184.216.34"), 443)
	if o.UID != 1000 || o.Exe != "/usr/bin/curl" || !slices.Equal(o.Cmdline, []string{"curl", "https://example.com/"}) {
		t.Errorf("optional fields: %+v", o)
	}

	st := tb.Stats()
	if st.MalformedLines != 3 {
		t.Errorf("MalformedLines = %d, want 3", st.MalformedLines)
	}
	// 6 tcp (2 malformed dropped -> 4) + 3 tcp6 + 2 udp + 1 udp6
	if st.Sockets != 10 || st.Procs != 5 || st.LastFDScans < 5 || st.Unowned != 1 {
		t.Errorf("stats: %+v", st)
	}
}

func TestOptionalFieldsOff(t *testing.T) {
	tb := mustNew(t, Options{Root: "testdata/proc"})
	mustPoll(t, tb)
	o, ok := tb.Lookup(ProtoTCP, ip("10.0.2.15"), 54321, ip("93.184.216.34"), 443)
	if !ok || o.UID != -1 || o.Exe != "" || o.Cmdline != nil {
		t.Errorf("%+v %v", o, ok)
	}
}

// Steady state: a second poll with nothing changed reads no fd dir; the
// orphan inode is rescanned for once and then given up on.
func TestIncremental(t *testing.T) {
	root := copyTree(t, "testdata/proc")
	tb := mustNew(t, Options{Root: root})
	mustPoll(t, tb)
	first := tb.Stats().LastFDScans
	// 5 new processes, then a rescan of known processes for orphan 9999.
	if first < 5 {
		t.Fatalf("first poll scans = %d", first)
	}
	mustPoll(t, tb)
	if s := tb.Stats(); s.LastFDScans != 0 || s.Unowned != 1 {
		t.Fatalf("steady poll: %+v", s)
	}

	// A known process opens a new socket: only socket owners are rescanned
	// until it is found, and curl (the first socket owner) has it.
	addSocket(t, root, 100, 9,
		"   6: 0F02000A:AFC9 01010101:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 1006 1 0000000000000000 100 0 0 10 0\n")
	mustPoll(t, tb)
	if s := tb.Stats(); s.LastFDScans != 1 {
		t.Errorf("new socket in known process: scans = %d, want 1", s.LastFDScans)
	}
	if o, ok := tb.Lookup(ProtoTCP, ip("1.1.1.1"), 443, ip("10.0.2.15"), 45001); !ok || o.PID != 100 {
		t.Errorf("new socket: %+v %v", o, ok)
	}

	// A new process: only it is scanned.
	mkProc(t, root, 500, "dig", "socket:[2004]")
	appendLine(t, filepath.Join(root, "net", "udp"),
		"    3: 0F02000A:9C41 08080808:0035 01 00000000:00000000 00:00000000 00000000  1000        0 2004 2 0000000000000000 0\n")
	mustPoll(t, tb)
	if s := tb.Stats(); s.LastFDScans != 1 || s.Procs != 6 {
		t.Errorf("new process: %+v", s)
	}
	if o, ok := tb.Lookup(ProtoUDP, ip("10.0.2.15"), 40001, ip("8.8.8.8"), 53); !ok || o.PID != 500 || o.Name != "dig" {
		t.Errorf("new process socket: %+v %v", o, ok)
	}

	// The process dies: it is dropped, and its socket no longer resolves
	// even while the kernel still lists it.
	if err := os.RemoveAll(filepath.Join(root, "500")); err != nil {
		t.Fatal(err)
	}
	mustPoll(t, tb)
	if s := tb.Stats(); s.Procs != 5 {
		t.Errorf("dead process kept: %+v", s)
	}
	if o, ok := tb.Lookup(ProtoUDP, ip("10.0.2.15"), 40001, ip("8.8.8.8"), 53); ok {
		t.Errorf("dead process still matched: %+v", o)
	}
}

// A process whose fd dir disappears between the listing of /proc and the
// read of its fds is skipped and counted, and the poll still succeeds.
func TestVanishMidScan(t *testing.T) {
	root := copyTree(t, "testdata/proc")
	tb := mustNew(t, Options{Root: root})
	tb.beforeFDScan = func(pid int) {
		if pid == 200 {
			if err := os.RemoveAll(filepath.Join(root, "200")); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustPoll(t, tb)
	s := tb.Stats()
	if s.ProcErrors != 1 || s.Procs != 4 {
		t.Errorf("stats: %+v", s)
	}
	if _, ok := tb.Lookup(ProtoUDP, ip("10.0.2.15"), 40000, ip("8.8.8.8"), 53); ok {
		t.Error("vanished process matched")
	}
	if o, ok := tb.Lookup(ProtoTCP, ip("10.0.2.15"), 54321, ip("93.184.216.34"), 443); !ok || o.PID != 100 {
		t.Errorf("others lost: %+v %v", o, ok)
	}
}

// An unreadable fd dir (permission denied) is skipped and counted.
func TestPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	root := copyTree(t, "testdata/proc")
	fd := filepath.Join(root, "101", "fd")
	if err := os.Chmod(fd, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(fd, 0o755) })
	tb := mustNew(t, Options{Root: root})
	mustPoll(t, tb)
	if s := tb.Stats(); s.ProcErrors == 0 || s.Procs != 4 {
		t.Errorf("stats: %+v", s)
	}
}

func TestMissingNetFiles(t *testing.T) {
	root := copyTree(t, "testdata/proc")
	os.Remove(filepath.Join(root, "net", "tcp6"))
	os.Remove(filepath.Join(root, "net", "udp6"))
	tb := mustNew(t, Options{Root: root})
	mustPoll(t, tb)
	if o, ok := tb.Lookup(ProtoTCP, ip("10.0.2.15"), 54321, ip("93.184.216.34"), 443); !ok || o.PID != 100 {
		t.Errorf("%+v %v", o, ok)
	}
}

func TestParseHexAddrPort(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:0035":                         "127.0.0.1:53",
		"B80D0120000000000000000001000000:01BB": "[2001:db8::1]:443",
		"0000000000000000FFFF00000100007F:1F90": "127.0.0.1:8080",
		"00000000000000000000000000000000:0000": "[::]:0",
	} {
		got, ok := parseHexAddrPort([]byte(in))
		if !ok || got.String() != want {
			t.Errorf("%s: got %v %v, want %s", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "0100007F", "0100007F:", "0100007G:0035", "01007F:0035", "0100007F:10000"} {
		if _, ok := parseHexAddrPort([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func appendLine(t testing.TB, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
}

func mkProc(t testing.TB, root string, pid int, comm string, fds ...string) {
	t.Helper()
	d := filepath.Join(root, itoa(pid))
	if err := os.MkdirAll(filepath.Join(d, "fd"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "comm"), []byte(comm+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeStat(t, root, pid, comm, uint64(pid))
	for i, tg := range fds {
		if err := os.Symlink(tg, filepath.Join(d, "fd", itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
}

// addSocket lists a TCP socket (a net/tcp line, whose tenth field is its
// inode) and gives it to process pid as descriptor fd.
func addSocket(t testing.TB, root string, pid, fd int, line string) {
	t.Helper()
	appendLine(t, filepath.Join(root, "net", "tcp"), line)
	ino := strings.Fields(line)[9]
	if err := os.Symlink("socket:["+ino+"]", filepath.Join(root, itoa(pid), "fd", itoa(fd))); err != nil {
		t.Fatal(err)
	}
}

// writeStat writes /proc/<pid>/stat with the start time start (field 22).
func writeStat(t testing.TB, root string, pid int, comm string, start uint64) {
	t.Helper()
	line := fmt.Sprintf("%d (%s) S 1 %d %d 0 -1 4194304 101 0 0 0 0 0 0 0 20 0 1 0 %d 3133440 390 18446744073709551615"+
		strings.Repeat(" 0", 27)+"\n", pid, comm, pid, pid, start)
	if err := os.WriteFile(filepath.Join(root, itoa(pid), "stat"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A known process that vanishes just before a rescan (triggered by a new
// unowned inode) is dropped with its sockets, and counted.
func TestVanishDuringRescan(t *testing.T) {
	root := copyTree(t, "testdata/proc")
	tb := mustNew(t, Options{Root: root})
	mustPoll(t, tb)
	errs := tb.Stats().ProcErrors
	addSocket(t, root, 400, 9,
		"   6: 0F02000A:AFC9 01010101:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 1006 1 0000000000000000 100 0 0 10 0\n")
	// curl's fd dir changes too, so it is rescanned first (lower PID).
	if err := os.Symlink("/dev/null", filepath.Join(root, "100", "fd", "9")); err != nil {
		t.Fatal(err)
	}
	tb.beforeFDScan = func(pid int) {
		if pid == 100 {
			os.RemoveAll(filepath.Join(root, "100", "fd"))
		}
	}
	mustPoll(t, tb)
	s := tb.Stats()
	if s.ProcErrors != errs+1 || s.Procs != 4 {
		t.Errorf("stats: %+v", s)
	}
	if o, ok := tb.Lookup(ProtoTCP, ip("10.0.2.15"), 54321, ip("93.184.216.34"), 443); ok {
		t.Errorf("vanished process still matched: %+v", o)
	}
	if o, ok := tb.Lookup(ProtoTCP, ip("10.0.2.15"), 45001, ip("1.1.1.1"), 443); !ok || o.Name != "sleep" {
		t.Errorf("new socket of a socketless process: %+v %v", o, ok)
	}
}

// Lookup runs concurrently with Poll (run with -race).
func TestConcurrentLookup(t *testing.T) {
	tb := mustNew(t, Options{Root: "testdata/proc"})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			if err := tb.Poll(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for {
		select {
		case <-done:
			if o, ok := tb.Lookup(ProtoTCP, ip("10.0.2.15"), 54321, ip("93.184.216.34"), 443); !ok || o.PID != 100 {
				t.Errorf("%+v %v", o, ok)
			}
			return
		default:
			tb.Lookup(ProtoUDP, ip("10.0.2.15"), 40000, ip("8.8.8.8"), 53)
			_ = tb.Stats()
		}
	}
}
