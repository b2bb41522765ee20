//go:build linux

package netns

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// Require skips the test unless it can create network namespaces: it needs
// root and the ip command. It returns the ip command's path.
func Require(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live tests create network namespaces and packet sockets: run them as root (sudo go test)")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("live tests need the ip command: apt-get install iproute2")
	}
	return ip
}

// Layout is how a test package names and numbers its pairs. go test runs
// the binaries of several packages at once: packages with different
// prefixes and subnet ranges never share a name and rarely a subnet.
type Layout struct {
	// Prefix names the namespaces: Prefix-a-PID-N and Prefix-b-PID-N, N
	// counting the pairs this process made.
	Prefix string
	// IfPrefix names the interfaces: IfPrefix+"a"+PID+"x"+N and the same
	// with "b". They must fit in 15 bytes.
	IfPrefix string
	// The pair's subnet is 10.200.X.0/24 with X = Subnet + (PID+N) % Subnets.
	Subnet, Subnets int
}

// End is one side of a Pair: its namespace, its end of the veth pair, and
// that interface's address and MAC address.
type End struct {
	NS   string
	If   string
	Addr netip.Addr
	MAC  net.HardwareAddr
}

// Pair is two namespaces, A and B, joined by a veth pair. A's address in
// 10.200.X.0/24 is .1 and its MAC 02:00:0a:c8:X:01; B's are .2 and
// 02:00:0a:c8:X:02.
type Pair struct {
	A, B End
	ip   string // the ip command
}

var pairs atomic.Int32

// NewPair makes the namespaces and the link, and removes the namespaces
// (and with them the link) when the test ends. It skips the test as Require
// does and fails it if any step fails.
func NewPair(t testing.TB, l Layout) *Pair {
	t.Helper()
	ip := Require(t)
	pid, n := os.Getpid(), int(pairs.Add(1))
	x := byte(l.Subnet + (pid+n)%l.Subnets)
	end := func(side string, host byte) End {
		return End{
			NS:   fmt.Sprintf("%s-%s-%d-%d", l.Prefix, side, pid, n),
			If:   fmt.Sprintf("%s%s%dx%d", l.IfPrefix, side, pid, n),
			Addr: netip.AddrFrom4([4]byte{10, 200, x, host}),
			MAC:  net.HardwareAddr{0x02, 0x00, 0x0a, 0xc8, x, host},
		}
	}
	p := &Pair{A: end("a", 1), B: end("b", 2), ip: ip}
	for _, ns := range []string{p.A.NS, p.B.NS} {
		p.Run(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command(ip, "netns", "del", ns).Run() })
		// IPv6 off before the link exists: no neighbour discovery, no MLD.
		for _, conf := range []string{"all", "default"} {
			p.Exec(t, ns, "sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/"+conf+"/disable_ipv6")
		}
		p.Run(t, "-n", ns, "link", "set", "lo", "up")
	}
	p.Run(t, "link", "add", p.A.If, "netns", p.A.NS, "address", p.A.MAC.String(), "type", "veth",
		"peer", "name", p.B.If, "netns", p.B.NS, "address", p.B.MAC.String())
	for _, e := range []struct{ self, peer End }{{p.A, p.B}, {p.B, p.A}} {
		p.Run(t, "-n", e.self.NS, "addr", "add", e.self.Addr.String()+"/24", "dev", e.self.If)
		p.Run(t, "-n", e.self.NS, "link", "set", e.self.If, "up")
		// A static neighbour: no ARP on the link.
		p.Run(t, "-n", e.self.NS, "neigh", "add", e.peer.Addr.String(), "lladdr", e.peer.MAC.String(),
			"dev", e.self.If, "nud", "permanent")
	}
	return p
}

// Run runs the ip command with the arguments and fails the test if it
// fails.
func (p *Pair) Run(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(p.ip, args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Exec runs a program in namespace ns (ip netns exec) and fails the test
// if it fails.
func (p *Pair) Exec(t testing.TB, ns string, args ...string) {
	t.Helper()
	p.Run(t, append([]string{"netns", "exec", ns}, args...)...)
}

// Command returns the command that runs a program in namespace ns (ip
// netns exec), for the caller to start: the program replaces ip, with the
// same process id.
func (p *Pair) Command(ns string, args ...string) *exec.Cmd {
	return exec.Command(p.ip, append([]string{"netns", "exec", ns}, args...)...)
}

// Link is an interface's index and counters, as ip -s -j link shows them.
// veth counts each frame's length on the wire.
type Link struct {
	Ifindex int
	Stats   struct {
		RX, TX struct{ Packets, Bytes uint64 }
	} `json:"stats64"`
}

// LinkStats returns the index and counters of interface iface in namespace
// ns.
func (p *Pair) LinkStats(t testing.TB, ns, iface string) Link {
	t.Helper()
	out, err := exec.Command(p.ip, "-n", ns, "-s", "-j", "link", "show", "dev", iface).Output()
	if err != nil {
		t.Fatalf("ip -s link: %v", err)
	}
	var links []Link
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -s -j link: %v: %s", err, out)
	}
	return links[0]
}

// Promiscuity returns the promiscuity count of interface iface in
// namespace ns: how many times it was put in promiscuous mode.
func (p *Pair) Promiscuity(t testing.TB, ns, iface string) int {
	t.Helper()
	out, err := exec.Command(p.ip, "-n", ns, "-d", "-j", "link", "show", "dev", iface).Output()
	if err != nil {
		t.Fatalf("ip -d link: %v", err)
	}
	var links []struct{ Promiscuity int }
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -d -j link: %v: %s", err, out)
	}
	return links[0].Promiscuity
}

// Do runs fn on a thread in namespace ns and waits for it; an error fails
// the test. Sockets fn creates belong to that namespace.
func Do(t testing.TB, ns string, fn func() error) {
	t.Helper()
	if err := <-Go(ns, fn); err != nil {
		t.Fatal(err)
	}
}

// Go runs fn on a thread in namespace ns, in the background; the channel
// gets its error, or the error of entering the namespace. The thread is
// locked and never unlocked, so it ends with fn and no other goroutine
// ever runs in the namespace.
func Go(ns string, fn func() error) <-chan error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return errc
}

// Inject writes the frames, whole and in order, on interface iface of
// namespace ns from a packet socket there, addressed to dst; it fails the
// test if any is refused. The frames carry their own Ethernet headers (and
// any VLAN tags), which the kernel sends as they are.
func Inject(t testing.TB, ns, iface string, dst net.HardwareAddr, frames [][]byte) {
	t.Helper()
	Do(t, ns, func() error {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
		copy(to.Addr[:], dst)
		for _, f := range frames {
			if err := unix.Sendto(fd, f, 0, to); err != nil {
				return fmt.Errorf("inject: %w", err)
			}
		}
		return nil
	})
}

// Checksum is the Internet checksum of b (RFC 1071), for the IPv4 and ICMP
// headers tests build.
func Checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
