package ipfixread

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// A message with a template set (template 256: sourceIPv4Address,
// enterprise 32473 element 5 of variable length) and a data set of one
// record (10.0.0.1, "ab").
const sample = "000a002f000000000000000000000000" + // header: version 10, length 47
	"00020014" + "01000002" + "00080004" + "8005ffff00007ed9" + // template set
	"0100000b" + "0a000001" + "026162" // data set

func sampleBytes(t testing.TB) []byte {
	b, err := hex.DecodeString(sample)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeSample(t *testing.T) {
	d := NewDecoder()
	m, err := d.Decode(sampleBytes(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Templates) != 1 || len(m.Records) != 1 {
		t.Fatalf("templates %d records %d, want 1 and 1", len(m.Templates), len(m.Records))
	}
	r := m.Records[0]
	if ip, _ := r.Get(Element{ID: 8}); !bytes.Equal(ip, []byte{10, 0, 0, 1}) {
		t.Errorf("sourceIPv4Address %v", ip)
	}
	if s, _ := r.Get(Element{ID: 5, PEN: 32473}); string(s) != "ab" {
		t.Errorf("enterprise string %q", s)
	}
	// The same bytes through a stream.
	b, err := ReadMessage(bytes.NewReader(sampleBytes(t)))
	if err != nil || len(b) != 47 {
		t.Fatalf("ReadMessage: %d bytes, %v", len(b), err)
	}
	// Truncated: an error, not a panic.
	for n := 0; n < 47; n++ {
		if _, err := NewDecoder().Decode(sampleBytes(t)[:n]); err == nil {
			t.Errorf("%d bytes: no error", n)
		}
	}
}

func TestBasicList(t *testing.T) {
	// ordered, element 9 of PEN 32473, items of 2 bytes: 1, -1.
	b, _ := hex.DecodeString("04" + "8009" + "0002" + "00007ed9" + "0001ffff")
	l, err := ParseBasicList(b)
	if err != nil {
		t.Fatal(err)
	}
	if l.Semantic != 4 || l.Item != (Element{9, 32473}) || len(l.Items) != 2 {
		t.Fatalf("%+v", l)
	}
	if x, _ := Int(l.Items[1]); x != -1 {
		t.Errorf("item 1 = %d", x)
	}
	if _, err := ParseBasicList(b[:7]); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("short list: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(sampleBytes(f))
	f.Add([]byte{0, 10, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder()
		m, err := d.Decode(b)
		if err != nil {
			return
		}
		for _, r := range m.Records {
			TypeRecord(&r)
			for _, v := range r.Values {
				ParseBasicList(v.Bytes)
				Uint(v.Bytes)
				Int(v.Bytes)
				Float(v.Bytes)
			}
		}
		// Every fixed-length value has its template's length.
		for _, r := range m.Records {
			tmpl := d.templates[[2]uint32{m.Domain, uint32(r.Template)}]
			if tmpl == nil || len(tmpl.Fields) != len(r.Values) {
				t.Fatalf("record of template %d: %d values, template %v", r.Template, len(r.Values), tmpl)
			}
			for i, f := range tmpl.Fields {
				if f.Length != 0xFFFF && len(r.Values[i].Bytes) != int(f.Length) {
					t.Fatalf("field %d: %d bytes, template says %d", i, len(r.Values[i].Bytes), f.Length)
				}
			}
		}
	})
}
