package ja4

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ext is one extension of a hand-built ClientHello.
type ext struct {
	typ  uint16
	data []byte
}

// hello describes a hand-built ClientHello.
type hello struct {
	version    uint16 // legacy_version; 0x0303 when 0
	ciphers    []uint16
	exts       []ext
	noExtBlock bool // no extensions field at all
}

func u16s(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

func with16(b []byte) []byte { return append(u16s(uint16(len(b))), b...) }
func with8(b []byte) []byte  { return append([]byte{byte(len(b))}, b...) }

func sniExt(name string) ext {
	entry := append([]byte{0}, with16([]byte(name))...)
	return ext{0x0000, with16(entry)}
}

func alpnExt(protos ...string) ext {
	var list []byte
	for _, p := range protos {
		list = append(list, with8([]byte(p))...)
	}
	return ext{0x0010, with16(list)}
}

func sigExt(algs ...uint16) ext       { return ext{0x000d, with16(u16s(algs...))} }
func versionsExt(vs ...uint16) ext    { return ext{0x002b, with8(u16s(vs...))} }
func emptyExt(typ uint16) ext         { return ext{typ, nil} }
func rawExt(typ uint16, d []byte) ext { return ext{typ, d} }

// bytes returns the ClientHello handshake message.
func (h hello) bytes() []byte {
	v := h.version
	if v == 0 {
		v = 0x0303
	}
	body := u16s(v)
	body = append(body, bytes.Repeat([]byte{0x5a}, 32)...) // random
	body = append(body, with8(bytes.Repeat([]byte{0x11}, 32))...)
	body = append(body, with16(u16s(h.ciphers...))...)
	body = append(body, 1, 0) // compression: null
	if !h.noExtBlock {
		var exts []byte
		for _, e := range h.exts {
			exts = append(exts, u16s(e.typ)...)
			exts = append(exts, with16(e.data)...)
		}
		body = append(body, with16(exts)...)
	}
	n := len(body)
	return append([]byte{1, byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

// records wraps a handshake message into TLS handshake records of at most
// frag bytes each.
func records(hs []byte, frag int) []byte {
	var out []byte
	for len(hs) > 0 {
		n := min(frag, len(hs))
		out = append(out, 0x16, 3, 1, byte(n>>8), byte(n))
		out = append(out, hs[:n]...)
		hs = hs[n:]
	}
	return out
}

// --- QUIC Initial protection, the sending side (test generator only) ---

func appendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return append(b, byte(v>>8)|0x40, byte(v))
	case v < 1<<30:
		return append(b, byte(v>>24)|0x80, byte(v>>16), byte(v>>8), byte(v))
	}
	return append(b, byte(v>>56)|0xc0, byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// cryptoFrame is a CRYPTO frame carrying data at offset off.
func cryptoFrame(off int, data []byte) []byte {
	f := appendVarint([]byte{0x06}, uint64(off))
	f = appendVarint(f, uint64(len(data)))
	return append(f, data...)
}

// protectInitial builds a client Initial packet of the given version
// carrying payload (frames), and applies packet and header protection with
// the keys derived from dcid. The Length field is always 2 bytes, as in
// RFC 9001 A.2.
func protectInitial(t testing.TB, version uint32, dcid, scid []byte, pn uint32, pnLen int, payload []byte) []byte {
	t.Helper()
	v, ok := lookupVersion(version)
	if !ok {
		t.Fatalf("unknown version %#x", version)
	}
	hdr := []byte{0xc0 | v.initialType<<4 | byte(pnLen-1)}
	hdr = binary.BigEndian.AppendUint32(hdr, version)
	hdr = append(hdr, with8(dcid)...)
	hdr = append(hdr, with8(scid)...)
	hdr = append(hdr, 0) // token length
	length := pnLen + len(payload) + 16
	hdr = append(hdr, byte(length>>8)|0x40, byte(length))
	pnOffset := len(hdr)
	for i := pnLen - 1; i >= 0; i-- {
		hdr = append(hdr, byte(pn>>(8*i)))
	}
	key, iv, hp := clientInitialSecrets(v, dcid)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	nonce := append([]byte(nil), iv...)
	for i := range 4 {
		nonce[len(nonce)-1-i] ^= byte(pn >> (8 * i))
	}
	pkt := aead.Seal(append([]byte(nil), hdr...), nonce, payload, hdr)
	hpb, _ := aes.NewCipher(hp)
	var mask [16]byte
	hpb.Encrypt(mask[:], pkt[pnOffset+4:pnOffset+4+16])
	pkt[0] ^= mask[0] & 0x0f
	for i := range pnLen {
		pkt[pnOffset+i] ^= mask[1+i]
	}
	return pkt
}

// --- packets on the wire (gopacket layers) ---

var (
	clientIP  = net.IPv4(10, 0, 0, 1)
	serverIP  = net.IPv4(192, 0, 2, 7)
	clientMAC = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	serverMAC = net.HardwareAddr{2, 0, 0, 0, 0, 2}
)

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// tcpFrame is an Ethernet/IPv4/TCP frame from the client (or the server);
// the ACK flag is set when ack is not 0.
func tcpFrame(t testing.TB, fromClient bool, cport uint16, seq, ack uint32, syn bool, payload []byte) []byte {
	src, dst, smac, dmac := clientIP, serverIP, clientMAC, serverMAC
	sport, dport := layers.TCPPort(cport), layers.TCPPort(443)
	if !fromClient {
		src, dst, smac, dmac = dst, src, dmac, smac
		sport, dport = dport, sport
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
	tcp := &layers.TCP{SrcPort: sport, DstPort: dport, Seq: seq, Ack: ack, SYN: syn, ACK: ack != 0, PSH: len(payload) > 0, Window: 65535}
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, &layers.Ethernet{SrcMAC: smac, DstMAC: dmac, EthernetType: layers.EthernetTypeIPv4}, ip, tcp, gopacket.Payload(payload))
}

// udpFrame is an Ethernet/IPv4/UDP frame from the client to port 443.
func udpFrame(t testing.TB, cport uint16, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: clientIP, DstIP: serverIP}
	udp := &layers.UDP{SrcPort: layers.UDPPort(cport), DstPort: 443}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(t, &layers.Ethernet{SrcMAC: clientMAC, DstMAC: serverMAC, EthernetType: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload(payload))
}
