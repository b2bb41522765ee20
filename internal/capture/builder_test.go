package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// Builders for the synthetic captures the tests, fuzz seeds and benchmarks
// use. Every capture in this package's tests is made here; none is copied.

// pcapRec is one classic pcap record. caplen is written as given, so it may
// disagree with len(data) on purpose.
type pcapRec struct {
	sec, usec      uint32
	caplen, length uint32
	data           []byte
}

// rec makes a record whose caplen and len are len(data).
func rec(sec, usec uint32, data []byte) pcapRec {
	return pcapRec{sec: sec, usec: usec, caplen: uint32(len(data)), length: uint32(len(data)), data: data}
}

// byteOrder is binary.LittleEndian or binary.BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

type pcapHeader struct {
	bo           byteOrder
	magic        uint32
	major, minor uint16
	snaplen      uint32
	linktype     uint32
}

// stdPcap is a little-endian microsecond pcap 2.4 of Ethernet, snaplen 65535.
func stdPcap() pcapHeader {
	return pcapHeader{bo: binary.LittleEndian, magic: magicMicro, major: 2, minor: 4, snaplen: 65535, linktype: 1}
}

func pcapFile(h pcapHeader, recs ...pcapRec) []byte {
	b := h.bo.AppendUint32(nil, h.magic)
	b = h.bo.AppendUint16(b, h.major)
	b = h.bo.AppendUint16(b, h.minor)
	b = h.bo.AppendUint32(b, 0) // thiszone
	b = h.bo.AppendUint32(b, 0) // sigfigs
	b = h.bo.AppendUint32(b, h.snaplen)
	b = h.bo.AppendUint32(b, h.linktype)
	for _, r := range recs {
		b = h.bo.AppendUint32(b, r.sec)
		b = h.bo.AppendUint32(b, r.usec)
		b = h.bo.AppendUint32(b, r.caplen)
		b = h.bo.AppendUint32(b, r.length)
		if h.magic == magicKuznetzov {
			// ifindex, protocol, pkt_type, padding
			b = h.bo.AppendUint32(b, 2)
			b = h.bo.AppendUint16(b, 0x0800)
			b = append(b, 0, 0)
		}
		b = append(b, r.data...)
	}
	return b
}

// ngFile builds a pcapng file block by block in one byte order.
type ngFile struct {
	bo byteOrder
	b  []byte
}

func newNG(bo byteOrder) *ngFile {
	w := &ngFile{bo: bo}
	return w.shb(1, 0)
}

func (w *ngFile) block(typ uint32, body []byte) *ngFile {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	total := uint32(12 + len(body))
	w.b = w.bo.AppendUint32(w.b, typ)
	w.b = w.bo.AppendUint32(w.b, total)
	w.b = append(w.b, body...)
	w.b = w.bo.AppendUint32(w.b, total)
	return w
}

func (w *ngFile) shb(major, minor uint16) *ngFile {
	body := w.bo.AppendUint32(nil, byteOrderMagic)
	body = w.bo.AppendUint16(body, major)
	body = w.bo.AppendUint16(body, minor)
	body = w.bo.AppendUint64(body, ^uint64(0)) // section length unknown
	return w.block(blockSHB, body)
}

// opt encodes one option, padded to 4 bytes.
func (w *ngFile) opt(code uint16, value []byte) []byte {
	b := w.bo.AppendUint16(nil, code)
	b = w.bo.AppendUint16(b, uint16(len(value)))
	b = append(b, value...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (w *ngFile) tsresol(v byte) []byte { return w.opt(optTSResol, []byte{v}) }

func (w *ngFile) tsoffset(v int64) []byte {
	return w.opt(optTSOffset, w.bo.AppendUint64(nil, uint64(v)))
}

func (w *ngFile) endOfOpt() []byte { return w.opt(optEndOfOpt, nil) }

func (w *ngFile) idb(link uint16, snaplen uint32, opts ...[]byte) *ngFile {
	body := w.bo.AppendUint16(nil, link)
	body = w.bo.AppendUint16(body, 0)
	body = w.bo.AppendUint32(body, snaplen)
	for _, o := range opts {
		body = append(body, o...)
	}
	return w.block(blockIDB, body)
}

func (w *ngFile) epb(iface uint32, ts uint64, caplen, length uint32, data []byte) *ngFile {
	body := w.bo.AppendUint32(nil, iface)
	body = w.bo.AppendUint32(body, uint32(ts>>32))
	body = w.bo.AppendUint32(body, uint32(ts))
	body = w.bo.AppendUint32(body, caplen)
	body = w.bo.AppendUint32(body, length)
	return w.block(blockEPB, append(body, data...))
}

// packet is an EPB whose caplen and len are len(data).
func (w *ngFile) packet(iface uint32, ts uint64, data []byte) *ngFile {
	return w.epb(iface, ts, uint32(len(data)), uint32(len(data)), data)
}

func (w *ngFile) spb(length uint32, data []byte) *ngFile {
	return w.block(blockSPB, append(w.bo.AppendUint32(nil, length), data...))
}

func (w *ngFile) pb(iface uint16, ts uint64, caplen, length uint32, data []byte) *ngFile {
	body := w.bo.AppendUint16(nil, iface)
	body = w.bo.AppendUint16(body, 0) // drops
	body = w.bo.AppendUint32(body, uint32(ts>>32))
	body = w.bo.AppendUint32(body, uint32(ts))
	body = w.bo.AppendUint32(body, caplen)
	body = w.bo.AppendUint32(body, length)
	return w.block(blockPB, append(body, data...))
}

func (w *ngFile) bytes() []byte { return w.b }

// got is one delivered record, with its data copied.
type got struct {
	Sec, Usec   int64
	CapLen, Len uint32
	LinkType    LinkType
	Data        string
}

// readAll reads a whole capture from memory and returns the records and
// the error that ended it (io.EOF for a clean end; the open error if the
// header was rejected, with no records).
func readAll(t *testing.T, data []byte) ([]got, error) {
	t.Helper()
	src, err := NewReader(bytes.NewReader(data), "test.pcap")
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var recs []got
	var p Packet
	for {
		err := src.Next(&p)
		if err != nil {
			if again := src.Next(&p); again != err {
				t.Errorf("Next after %v returned %v; want the same error again", err, again)
			}
			return recs, err
		}
		if int(p.CapLen) != len(p.Data) {
			t.Fatalf("CapLen %d but %d bytes of data", p.CapLen, len(p.Data))
		}
		recs = append(recs, got{p.Sec, p.Usec, p.CapLen, p.Len, p.LinkType, string(p.Data)})
	}
}

// mustReadAll reads a capture that must end cleanly.
func mustReadAll(t *testing.T, data []byte) []got {
	t.Helper()
	recs, err := readAll(t, data)
	if err != io.EOF {
		t.Fatalf("read ended with %v after %d records; want io.EOF", err, len(recs))
	}
	return recs
}

// wantFormatError checks that err is a *FormatError at offset off, wrapping
// ErrTruncated exactly when truncated is true.
func wantFormatError(t *testing.T, err error, off int64, truncated bool) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FormatError", err, err)
	}
	if fe.Name != "test.pcap" {
		t.Errorf("error names %q; want test.pcap", fe.Name)
	}
	if fe.Offset != off {
		t.Errorf("error %q at offset %d; want %d", err, fe.Offset, off)
	}
	if errors.Is(err, ErrTruncated) != truncated {
		t.Errorf("error %q: errors.Is(ErrTruncated) = %v; want %v", err, !truncated, truncated)
	}
}
