package ja4

import "testing"

// The per-packet cost a flow plugin pays in the common cases.

func BenchmarkTCPHelloOneSegment(b *testing.B) {
	rec := records(specHello(true).bytes(), 1<<14)
	b.ReportAllocs()
	for b.Loop() {
		var a TCPAssembler
		a.SYN(0)
		if a.Feed(1, rec) != Done {
			b.Fatal("not done")
		}
		if _, err := Fingerprint(a.Hello(), TCP); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQUICInitial(b *testing.B) {
	dg := quicDatagrams(b, QUICv1, []byte{1, 2, 3, 4, 5, 6, 7, 8}, specHello(true).bytes(), nil, [][]int{{0}}, 0)[0]
	b.ReportAllocs()
	for b.Loop() {
		var a QUICAssembler
		if a.Feed(dg) != Done {
			b.Fatal("not done")
		}
		if _, err := Fingerprint(a.Hello(), QUIC); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNotTLS(b *testing.B) {
	p := []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		var a TCPAssembler
		a.SYN(0)
		if a.Feed(1, p) != Failed {
			b.Fatal("not failed")
		}
	}
}
