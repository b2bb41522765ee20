package features

import (
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/nfstream-go/nfstream/internal/testing/testgen"
)

func TestAppendIP(t *testing.T) {
	cases := []struct {
		version uint8
		hex     string
		want    string
	}{
		{4, "c0a80001", "192.168.0.1"},
		{6, "20010db8000000000000000000000001", "2001:db8::1"},
		{6, "00000000000000000000000000000001", "::1"},
		{6, "00000000000000000000000000000000", "::"},
		{6, "00000000000000000000ffffc0000201", "::ffff:192.0.2.1"},
		{6, "000000000000000000000000c0000201", "::192.0.2.1"},
		{6, "20010db8000000010000000000000001", "2001:db8:0:1::1"},
		{6, "20010db8000100000001000100010001", "2001:db8:1:0:1:1:1:1"},
		{6, "fe800000000000000202b3fffe1e8329", "fe80::202:b3ff:fe1e:8329"},
	}
	for _, c := range cases {
		var a [16]byte
		b, _ := hex.DecodeString(c.hex)
		copy(a[:], b)
		if got := string(AppendIP(nil, c.version, a)); got != c.want {
			t.Errorf("AppendIP(%s) = %q, want %q", c.hex, got, c.want)
		}
	}
}

// TestAppendIPAgainstInetNtop compares with glibc's inet_ntop through
// python3's socket.inet_ntop, on addresses with many zero runs.
func TestAppendIPAgainstInetNtop(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var addrs [][16]byte
	var in []string
	for i := 0; i < 3000; i++ {
		var a [16]byte
		for w := 0; w < 8; w++ {
			switch rng.IntN(3) {
			case 0: // zero word
			case 1:
				a[2*w+1] = byte(rng.IntN(256))
			default:
				a[2*w], a[2*w+1] = byte(rng.IntN(256)), byte(rng.IntN(256))
			}
		}
		if i%10 == 0 { // embedded IPv4 forms
			copy(a[:12], make([]byte, 12))
			if i%20 == 0 {
				a[10], a[11] = 0xff, 0xff
			}
		}
		addrs = append(addrs, a)
		in = append(in, hex.EncodeToString(a[:]))
	}
	out := testgen.Python(t, "compare with inet_ntop", `
import sys, socket
for line in sys.stdin:
    print(socket.inet_ntop(socket.AF_INET6, bytes.fromhex(line.strip())))
`, in)
	if len(out) != len(addrs) {
		t.Fatalf("python3 printed %d lines for %d addresses", len(out), len(addrs))
	}
	for i, want := range out {
		if got := string(AppendIP(nil, 6, addrs[i])); got != want {
			t.Errorf("AppendIP(%x) = %q, inet_ntop says %q", addrs[i], got, want)
		}
	}
}
