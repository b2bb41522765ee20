package ja4

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// packetSource reads a pcap or pcapng file.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

func openCapture(t testing.TB, path string) (packetSource, layers.LinkType) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) >= 4 && bytes.Equal(raw[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(bytes.NewReader(raw), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		return r, r.LinkType()
	}
	r, err := pcapgo.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return r, r.LinkType()
}

// dirKey names one direction of a flow as tshark's fields do:
// "t 10.0.0.1:4433>192.0.2.7:443" (t for TCP, q for UDP).
func dirKey(proto byte, src net.IP, sport int, dst net.IP, dport int) string {
	return fmt.Sprintf("%c %s:%d>%s:%d", proto, src, sport, dst, dport)
}

// captureJA4 runs the package over a capture the way a flow plugin would:
// one assembler per flow direction, fed every packet of that direction
// until Done or Failed. It returns the JA4 of every direction that carried
// a ClientHello (or "error: ..." when Fingerprint refused it), and the
// directions in the order their hello completed.
func captureJA4(t testing.TB, path string) (map[string]string, []string) {
	t.Helper()
	src, lt := openCapture(t, path)
	tcps := map[string]*TCPAssembler{}
	quics := map[string]*QUICAssembler{}
	out := map[string]string{}
	var order []string
	for {
		data, _, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Logf("%s: %v", path, err)
			break
		}
		p := gopacket.NewPacket(data, lt, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		var sip, dip net.IP
		for _, l := range p.Layers() { // the innermost IP header
			switch ip := l.(type) {
			case *layers.IPv4:
				sip, dip = ip.SrcIP, ip.DstIP
			case *layers.IPv6:
				sip, dip = ip.SrcIP, ip.DstIP
			}
		}
		if sip == nil {
			continue
		}
		var hello []byte
		var key string
		var proto byte
		switch tr := p.TransportLayer().(type) {
		case *layers.TCP:
			key, proto = dirKey('t', sip, int(tr.SrcPort), dip, int(tr.DstPort)), TCP
			a := tcps[key]
			if a == nil {
				a = new(TCPAssembler)
				tcps[key] = a
			}
			if tr.SYN && !tr.ACK {
				a.SYN(tr.Seq)
			}
			if a.Status() == NeedMore && a.Feed(tr.Seq, tr.Payload) == Done {
				hello = a.Hello()
			}
		case *layers.UDP:
			key, proto = dirKey('q', sip, int(tr.SrcPort), dip, int(tr.DstPort)), QUIC
			a := quics[key]
			if a == nil {
				a = new(QUICAssembler)
				quics[key] = a
			}
			if a.Status() == NeedMore && a.Feed(tr.Payload) == Done {
				hello = a.Hello()
			}
		}
		if hello == nil {
			continue
		}
		fp, err := Fingerprint(hello, proto)
		if err != nil {
			fp = "error: " + err.Error()
		}
		out[key] = fp
		order = append(order, key)
	}
	return out, order
}
