package anonymize

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
)

// testKey is 0x00, 0x01, ... 0x3f.
func testKey() []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// TestKnownVector checks a digest against RFC 7693's reference values as
// published in the BLAKE2 test vectors (blake2b-kat.txt: key 00..3f,
// empty input), which do not depend on any Go code.
func TestKnownVector(t *testing.T) {
	h, err := NewHasher(testKey())
	if err != nil {
		t.Fatal(err)
	}
	const want = "10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568"
	if got := string(h.AppendHex(nil, nil)); got != want {
		t.Errorf("keyed BLAKE2b-512 of \"\" = %s, want %s", got, want)
	}
}

// TestAgainstPython compares with Python's hashlib.blake2b(key=...,
// digest_size=64), which NFStream uses, over values of every column kind.
func TestAgainstPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: cannot compare with hashlib")
	}
	texts := []string{"", "192.168.43.18", "2001:db8::1", "443", "-1", "68.0", "1e-05", "[0, 1, -1]", "TLS.Facebook", "é ü 日本"}
	cmd := exec.Command(py, "-c", `
import sys, hashlib
key = bytes.fromhex(sys.argv[1])
for line in sys.stdin.read().split("\n")[:-1]:
    print(hashlib.blake2b(str(line).encode("utf-8"), key=key, digest_size=64).hexdigest())
`, hex.EncodeToString(testKey()))
	cmd.Stdin = strings.NewReader(strings.Join(texts, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	want := strings.Split(strings.TrimSpace(string(out)), "\n")
	h, _ := NewHasher(testKey())
	for i, text := range texts {
		if got := string(h.AppendHex(nil, []byte(text))); got != want[i] {
			t.Errorf("%q: %s, Python says %s", text, got, want[i])
		}
	}
}

// TestAppendText checks the text hashed for each kind: Python's str().
func TestAppendText(t *testing.T) {
	r := &features.Record{SrcPort: 443, ExpirationID: -1, IPVersion: 4, SPLTDirection: []int8{0, 1, -1},
		SPLTPS: []int32{60, 54, -1}, SPLTPIAT: []int64{0, 34, -1}}
	r.SrcIP[0], r.SrcIP[1], r.SrcIP[2], r.SrcIP[3] = 192, 168, 43, 18
	r.Bidirectional.Packets = 4
	r.Bidirectional.PS.Mean = 68
	want := map[string]string{
		"src_ip": "192.168.43.18", "src_port": "443", "expiration_id": "-1",
		"bidirectional_mean_ps": "68.0", "splt_direction": "[0, 1, -1]", "splt_piat_ms": "[0, 34, -1]",
	}
	cols := features.Schema{Stats: true, SPLT: true}.Columns()
	for i := range cols {
		if w, ok := want[cols[i].Name]; ok {
			if got := string(AppendText(nil, &cols[i], r)); got != w {
				t.Errorf("%s: %q, want %q", cols[i].Name, got, w)
			}
		}
	}
}

func TestColumns(t *testing.T) {
	cols := features.Schema{SPLT: true}.Columns()
	key := testKey()
	anon, err := Columns(cols, []string{"src_ip", "dst_port", "splt_ps", "src_ip"}, key)
	if err != nil {
		t.Fatal(err)
	}
	r := &features.Record{IPVersion: 4, DstPort: 53, SPLTDirection: []int8{0}, SPLTPS: []int32{60}, SPLTPIAT: []int64{0}}
	r.SrcIP[0], r.SrcIP[3] = 10, 1
	h, _ := NewHasher(key)
	for i := range anon {
		c := &anon[i]
		var want string
		switch c.Name {
		case "src_ip":
			want = string(h.AppendHex(nil, []byte("10.0.0.1")))
		case "dst_port":
			want = string(h.AppendHex(nil, []byte("53")))
		case "splt_ps":
			want = string(h.AppendHex(nil, []byte("[60]")))
		default:
			if c.Kind != cols[i].Kind {
				t.Errorf("%s changed kind", c.Name)
			}
			continue
		}
		if c.Kind != features.KindString {
			t.Errorf("%s: kind %d, want string", c.Name, c.Kind)
		}
		got := string(c.String(r, []byte("prefix:")))
		if got != "prefix:"+want || len(want) != DigestHexSize {
			t.Errorf("%s: %q, want prefix:%s", c.Name, got, want)
		}
		// Same value, same digest: the mapping is consistent.
		if again := string(c.String(r, nil)); again != want {
			t.Errorf("%s: second digest differs", c.Name)
		}
	}
	if cols[2].Kind != features.KindString || cols[5].Kind != features.KindUint {
		t.Error("Columns changed its input")
	}
	if _, err := Columns(cols, []string{"no_such"}, key); err == nil || !strings.Contains(err.Error(), `"no_such"`) {
		t.Errorf("unknown column: %v", err)
	}
}

// TestWrapCSV anonymizes through a CSV sink: the column holds the quoted
// digest.
func TestWrapCSV(t *testing.T) {
	var buf bytes.Buffer
	s := Wrap(output.NewCSV(&buf, "buf"), []string{"src_port"}, testKey())
	if err := s.Begin(features.Schema{}.Columns()); err != nil {
		t.Fatal(err)
	}
	r := &features.Record{IPVersion: 4, SrcPort: 443}
	s.Write(r)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	h, _ := NewHasher(testKey())
	want := `"` + string(h.AppendHex(nil, []byte("443"))) + `"`
	if !strings.Contains(buf.String(), ","+want+",") {
		t.Errorf("no %s in\n%s", want, buf.String())
	}
	if err := Wrap(output.NewCSV(&buf, "buf"), []string{"nope"}, testKey()).Begin(features.Schema{}.Columns()); err == nil {
		t.Error("Begin accepted an unknown column")
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	raw := testKey()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	for name, data := range map[string][]byte{
		"raw":    raw,
		"hex":    []byte(hex.EncodeToString(raw)),
		"hex-nl": []byte(hex.EncodeToString(raw) + "\n"),
		"HEX":    []byte(strings.ToUpper(hex.EncodeToString(raw)) + "\r\n"),
	} {
		k, err := LoadKey(write(name, data))
		if err != nil || !bytes.Equal(k, raw) {
			t.Errorf("%s: %x, %v", name, k, err)
		}
	}
	for name, data := range map[string][]byte{
		"short":  raw[:32],
		"badhex": []byte(strings.Repeat("zz", 64)),
		"long":   append(raw, 0),
	} {
		p := write(name, data)
		if _, err := LoadKey(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, want an error naming the file", name, err)
		}
	}
	if _, err := LoadKey(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	a, _ := NewKey()
	b, _ := NewKey()
	if len(a) != KeySize || bytes.Equal(a, b) {
		t.Error("NewKey: want distinct 64-byte keys")
	}
}
