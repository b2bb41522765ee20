//go:build cgo

package filter

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// Hand-built frames. Each is what the comment above it says; the tcpdump
// line is how tcpdump -nn -e prints it.

var (
	macA = []byte{0x02, 0, 0, 0, 0, 0x0a}
	macB = []byte{0x02, 0, 0, 0, 0, 0x0b}
)

// ether prepends an Ethernet header (and 802.1Q tags, outermost first) to
// an IP packet.
func ether(ethertype uint16, payload []byte, vlans ...uint16) []byte {
	b := append(append([]byte{}, macB...), macA...)
	for _, v := range vlans {
		b = binary.BigEndian.AppendUint16(b, 0x8100)
		b = binary.BigEndian.AppendUint16(b, v)
	}
	b = binary.BigEndian.AppendUint16(b, ethertype)
	return append(b, payload...)
}

// ipv4 builds an IPv4 header (no options, checksum left 0) around an L4
// segment.
func ipv4(proto uint8, src, dst [4]byte, l4 []byte) []byte {
	b := []byte{0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(l4)))
	b = append(b, src[:]...)
	b = append(b, dst[:]...)
	return append(b, l4...)
}

// ipv6 builds a fixed IPv6 header around an L4 segment.
func ipv6(next uint8, l4 []byte) []byte {
	b := []byte{0x60, 0, 0, 0, 0, 0, next, 64}
	binary.BigEndian.PutUint16(b[4:], uint16(len(l4)))
	src := [16]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	dst := src
	dst[15] = 2
	b = append(b, src[:]...)
	b = append(b, dst[:]...)
	return append(b, l4...)
}

func tcp(sport, dport uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	return append(b, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0) // SYN
}

func udp(sport, dport uint16, payload string) []byte {
	b := binary.BigEndian.AppendUint16(nil, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = append(b, 0, 0)
	return append(b, payload...)
}

// LINKTYPE_ values of the tests.
const (
	linkEthernet uint32 = 1
	linkRaw      uint32 = 101
)

var (
	h1 = [4]byte{10, 0, 0, 1}
	h2 = [4]byte{10, 0, 0, 2}
)

func TestCompileMatches(t *testing.T) {
	frames := map[string][]byte{
		// 02:00:00:00:00:0a > 02:00:00:00:00:0b, IPv4, 10.0.0.1.50000 > 10.0.0.2.443: Flags [S]
		"tcp 443":     ether(0x0800, ipv4(6, h1, h2, tcp(50000, 443))),
		"tcp 443 rev": ether(0x0800, ipv4(6, h2, h1, tcp(443, 50000))),
		"tcp 80":      ether(0x0800, ipv4(6, h1, h2, tcp(50000, 80))),
		// 10.0.0.1.5353 > 10.0.0.2.53: UDP, length 3
		"udp 53": ether(0x0800, ipv4(17, h1, h2, udp(5353, 53, "abc"))),
		// 10.0.0.1.40000 > 10.0.0.2.123: UDP, length 3
		"udp 123": ether(0x0800, ipv4(17, h1, h2, udp(40000, 123, "abc"))),
		// fd00::1.40000 > fd00::2.443: Flags [S]
		"tcp6 443": ether(0x86dd, ipv6(6, tcp(40000, 443))),
		// vlan 100, ethertype IPv4, 10.0.0.1.40000 > 10.0.0.2.123: UDP
		"vlan udp": ether(0x8100, append([]byte{0, 100, 0x08, 0x00}, ipv4(17, h1, h2, udp(40000, 123, "abc"))...)),
		// vlan 100, ethertype IPv6, fd00::1.40000 > fd00::2.443
		"vlan tcp6": ether(0x8100, append([]byte{0, 100, 0x86, 0xdd}, ipv6(6, tcp(40000, 443))...)),
		// ARP, Request who-has 10.0.0.2 tell 10.0.0.1
		"arp": ether(0x0806, []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 0x0a, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2}),
	}
	tests := []struct {
		expr string
		want []string // frames the filter accepts
	}{
		{"tcp port 443", []string{"tcp 443", "tcp 443 rev", "tcp6 443"}},
		{"udp and not port 53", []string{"udp 123"}},
		{"vlan and ip", []string{"vlan udp"}},
		{"vlan 100 and ip6", []string{"vlan tcp6"}},
		{"arp", []string{"arp"}},
		{"", []string{"tcp 443", "tcp 443 rev", "tcp 80", "udp 53", "udp 123", "tcp6 443", "vlan udp", "vlan tcp6", "arp"}},
	}
	for _, tt := range tests {
		insns, err := Compile(tt.expr, linkEthernet, 1536)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.expr, err)
		}
		f, err := New(insns)
		if err != nil {
			t.Fatalf("New(%q): %v", tt.expr, err)
		}
		for name, frame := range frames {
			want := false
			for _, w := range tt.want {
				want = want || w == name
			}
			if got := f.Match(frame, uint32(len(frame))); got != want {
				t.Errorf("%q on %s: match %v, want %v", tt.expr, name, got, want)
			}
		}
		// Accepting paths return the snapshot length, which the kernel
		// truncates live packets to.
		last := insns[len(insns)-1]
		if tt.expr != "" && (last.Op != 0x06 || last.K != 0) {
			t.Errorf("%q: last instruction %+v, want ret #0", tt.expr, last)
		}
		accepts := false
		for _, in := range insns {
			accepts = accepts || (in.Op == 0x06 && in.K == 1536)
		}
		if !accepts {
			t.Errorf("%q: no ret #1536 in %v", tt.expr, insns)
		}
	}
}

func TestCompileRawIP(t *testing.T) {
	insns, err := Compile("udp and not port 53", linkRaw, 65535)
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(insns)
	if err != nil {
		t.Fatal(err)
	}
	yes := ipv4(17, h1, h2, udp(40000, 123, "abc"))
	no := ipv4(17, h1, h2, udp(40000, 53, "abc"))
	if !f.Match(yes, uint32(len(yes))) || f.Match(no, uint32(len(no))) {
		t.Errorf("raw IP: match(udp 123) = %v, match(udp 53) = %v", f.Match(yes, uint32(len(yes))), f.Match(no, uint32(len(no))))
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		expr string
		link uint32
		want string // in libpcap's message
	}{
		{"tcp prot 443", linkEthernet, "syntax error"},
		{"port 70000", linkEthernet, "port"},
		{"ip proto nosuch", linkEthernet, "nosuch"},
		{"vlan", linkRaw, "vlan"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.expr, tt.link, 1536)
		var ce *CompileError
		if !errors.As(err, &ce) {
			t.Errorf("Compile(%q): error %v, want a *CompileError", tt.expr, err)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "filter \""+tt.expr+"\": ") || !strings.Contains(msg, tt.want) {
			t.Errorf("Compile(%q): %q, want the quoted expression and %q", tt.expr, msg, tt.want)
		}
	}
	if _, err := Compile("tcp", linkEthernet, 0); err == nil || !strings.Contains(err.Error(), `"tcp"`) {
		t.Errorf("snaplen 0: %v", err)
	}
}
