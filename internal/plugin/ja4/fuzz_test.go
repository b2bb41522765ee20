package ja4

import (
	"testing"
)

// FuzzClientHello feeds arbitrary bytes to Parse and Fingerprint for the
// three transports, and, as TLS records, to a TCPAssembler in two segments
// given out of order.
func FuzzClientHello(f *testing.F) {
	f.Add(specHello(true).bytes(), uint8(3))
	f.Add(specHello(false).bytes(), uint8(200))
	f.Add(hello{noExtBlock: true}.bytes(), uint8(0))
	f.Add(hello{ciphers: []uint16{0x1301}, exts: []ext{sniExt(""), alpnExt(""), versionsExt(), sigExt()}}.bytes(), uint8(9))
	f.Add(records(specHello(true).bytes(), 50), uint8(77))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		for _, tr := range []byte{TCP, QUIC, DTLS} {
			fp, err := Fingerprint(data, tr)
			if err == nil && (len(fp) != 36 || fp[0] != tr) {
				t.Fatalf("fingerprint %q", fp)
			}
			if ch, err := Parse(data, tr); err == nil {
				_ = ch.Raw(tr, false) + ch.Raw(tr, true) + ch.JA4Original(tr)
			}
		}
		// The same bytes as a TCP stream, as they are and wrapped in records.
		for _, stream := range [][]byte{data, records(data, 1+int(cut))} {
			at := min(int(cut), len(stream))
			var a TCPAssembler
			a.Feed(1000+uint32(at), stream[at:])
			if st := a.Feed(1000, stream[:at]); st == Done {
				h := a.Hello()
				if len(h) < 4 || h[0] != 1 || len(h) > MaxHello {
					t.Fatalf("hello %x", h)
				}
				_, _ = Fingerprint(h, TCP)
			}
		}
	})
}

// FuzzQUICInitial feeds arbitrary datagrams to a QUICAssembler, and, so
// that the fuzzer reaches the frame parser behind the AEAD, also protects
// the input as the frames of a valid Initial packet first.
func FuzzQUICInitial(f *testing.F) {
	a2 := rfcA2(f)
	f.Add(a2["protected"], false)
	f.Add(a2["payload"], true)
	f.Add(cryptoFrame(0, specHello(true).bytes()), true)
	f.Add(append([]byte{0x02, 0, 0, 1, 0, 0x01}, cryptoFrame(30, []byte{1, 2, 3})...), true)
	for _, d := range quicDatagrams(f, QUICv2, []byte{1, 2, 3, 4, 5, 6, 7, 8}, specHello(false).bytes(), []int{90}, [][]int{{1, 0}}, 0) {
		f.Add(d, false)
	}
	dcid := []byte{0x83, 0x94, 0xc8, 0xf0}
	f.Fuzz(func(t *testing.T, data []byte, protect bool) {
		var a QUICAssembler
		if protect {
			payload := append([]byte(nil), data...)
			for len(payload) < 20 {
				payload = append(payload, 0)
			}
			data = protectInitial(t, QUICv1, dcid, nil, 0, 1, payload)
		}
		st := a.Feed(data)
		st2 := a.Feed(data) // a second time: repeated CRYPTO data
		if st == Done && st2 != Done {
			t.Fatalf("status %v after Done", st2)
		}
		if st2 == Done {
			h := a.Hello()
			if len(h) < 4 || h[0] != 1 || len(h) > MaxHello {
				t.Fatalf("hello %x", h)
			}
			_, _ = Fingerprint(h, QUIC)
		}
	})
}
