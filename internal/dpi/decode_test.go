package dpi

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

func TestDecodeIgnore(t *testing.T) {
	// Expected values are what Python 3's bytes.decode("utf-8",
	// errors="ignore") returns for the same bytes.
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"\x80", ""},                                 // lone continuation byte
		{"a\x80b", "ab"},                             // ... in the middle
		{"\xc3\xa9", "\u00e9"},                       // é
		{"\xc3", ""},                                 // truncated 2-byte sequence
		{"caf\xc3", "caf"},                           // ... at the end
		{"\xe2\x82", ""},                             // truncated 3-byte sequence
		{"\xe2\x82\xac", "\u20ac"},                   // €
		{"\xe2\x82A", "A"},                           // truncated, then ASCII kept
		{"\xc0\xaf", ""},                             // overlong '/'
		{"\xc1\xbf", ""},                             // overlong
		{"\xe0\x80\xaf", ""},                         // overlong 3-byte '/'
		{"\xe0\x9f\xbf", ""},                         // overlong 3-byte
		{"\xf0\x80\x80\xaf", ""},                     // overlong 4-byte '/'
		{"\xed\xa0\x80", ""},                         // surrogate U+D800
		{"\xed\xbf\xbf", ""},                         // surrogate U+DFFF
		{"\xed\x9f\xbf", "\ud7ff"},                   // last before the surrogates
		{"\xf4\x8f\xbf\xbf", "\U0010ffff"},           // highest code point
		{"\xf4\x90\x80\x80", ""},                     // above U+10FFFF
		{"\xf5\x80\x80\x80", ""},                     // invalid lead byte
		{"\xff\xfe", ""},                             // never valid
		{"\xef\xbf\xbd", "\ufffd"},                   // a real U+FFFD is kept
		{"\xf0\x9f\x98\x80", "\U0001f600"},           // 😀
		{"\xf0\x9f\x98", ""},                         // truncated 4-byte sequence
		{"x\xf0\x9f\x98\x80\xf0\x9f", "x\U0001f600"}, // valid then truncated
		{"Mozilla/5.0 \xa9 \xe2\x84\xa2", "Mozilla/5.0  \u2122"},
	} {
		if got := decodeIgnore([]byte(tc.in)); got != tc.want {
			t.Errorf("decodeIgnore(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// randomBytes makes byte strings rich in UTF-8 edge cases: lead bytes of
// every length, continuation bytes, the bytes around overlong, surrogate
// and out-of-range boundaries, and plain ASCII.
func randomBytes(r *rand.Rand) []byte {
	interesting := []byte{0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
		0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xfe, 0xff}
	b := make([]byte, r.IntN(12))
	for i := range b {
		if r.IntN(3) == 0 {
			b[i] = byte(r.IntN(256))
		} else {
			b[i] = interesting[r.IntN(len(interesting))]
		}
	}
	return b
}

func TestDecodeIgnoreMatchesPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found; the fixed cases of TestDecodeIgnore still run")
	}
	r := rand.New(rand.NewPCG(1, 2))
	inputs := make([][]byte, 20000)
	var stdin strings.Builder
	for i := range inputs {
		inputs[i] = randomBytes(r)
		stdin.WriteString(hex.EncodeToString(inputs[i]))
		stdin.WriteByte('\n')
	}
	const script = `import sys
for line in sys.stdin:
    b = bytes.fromhex(line.strip())
    print(b.decode("utf-8", errors="ignore").encode("utf-8").hex())
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = strings.NewReader(stdin.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for i := 0; sc.Scan(); i++ {
		want, err := hex.DecodeString(sc.Text())
		if err != nil {
			t.Fatal(err)
		}
		if got := decodeIgnore(inputs[i]); got != string(want) {
			t.Errorf("decodeIgnore(%x) = %x, Python gives %x", inputs[i], got, want)
		}
	}
}

func FuzzDecodeIgnore(f *testing.F) {
	f.Add([]byte("\xe2\x82A\xed\xa0\x80\xef\xbf\xbd"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := decodeIgnore(b)
		if !strings.ContainsRune(string(b), 0xfffd) && strings.ContainsRune(s, 0xfffd) {
			t.Errorf("decodeIgnore(%x) invented U+FFFD", b)
		}
		if len(s) > len(b) {
			t.Errorf("decodeIgnore(%x) grew to %d bytes", b, len(s))
		}
		if decodeIgnore([]byte(s)) != s {
			t.Errorf("decodeIgnore(%x) is not a fixed point", b)
		}
	})
}
