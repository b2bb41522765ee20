package sysvis

import (
	"net"
	"net/netip"
	"os"
	"testing"
)

// TestLiveProc checks the real /proc: a TCP connection and a UDP socket of
// this test process are found with our PID.
func TestLiveProc(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()

	tb := mustNew(t, Options{})
	mustPoll(t, tb)
	la := c.LocalAddr().(*net.TCPAddr).AddrPort()
	ra := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	o, ok := tb.Lookup(ProtoTCP, ra.Addr(), ra.Port(), la.Addr(), la.Port())
	if !ok || o.PID != os.Getpid() {
		t.Errorf("tcp: got %+v %v, want pid %d (stats %+v)", o, ok, os.Getpid(), tb.Stats())
	}
	up := u.LocalAddr().(*net.UDPAddr).AddrPort()
	o, ok = tb.Lookup(ProtoUDP, netip.MustParseAddr("127.0.0.1"), 40000, up.Addr(), up.Port())
	if !ok || o.PID != os.Getpid() {
		t.Errorf("udp: got %+v %v, want pid %d", o, ok, os.Getpid())
	}
}
