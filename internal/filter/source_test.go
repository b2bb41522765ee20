package filter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/nfstream-go/nfstream/internal/capture"
)

// fakeSource delivers the given packets, then io.EOF.
type fakeSource struct {
	pkts   []capture.Packet
	closed bool
}

func (s *fakeSource) Next(p *capture.Packet) error {
	if len(s.pkts) == 0 {
		return io.EOF
	}
	*p, s.pkts = s.pkts[0], s.pkts[1:]
	return nil
}

func (s *fakeSource) Close() error { s.closed = true; return nil }

func TestFilteredSource(t *testing.T) {
	// The fake compiler accepts packets whose first byte is the link type.
	var compiled []uint32
	compile := func(expr string, link uint32, snaplen int, swapped bool) ([]bpf.RawInstruction, error) {
		compiled = append(compiled, link)
		if link == uint32(capture.LinkRaw) {
			return nil, errors.New(`filter "first byte": not for raw IP`)
		}
		return assemble(t,
			bpf.LoadAbsolute{Off: 0, Size: 1},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: link, SkipFalse: 1}, accept, reject), nil
	}
	pkt := func(link capture.LinkType, b byte) capture.Packet {
		return capture.Packet{LinkType: link, Data: []byte{b}, CapLen: 1, Len: 1}
	}
	src := &fakeSource{pkts: []capture.Packet{
		pkt(capture.LinkEthernet, 1), pkt(capture.LinkEthernet, 2), pkt(capture.LinkNull, 0),
		pkt(capture.LinkNull, 1), pkt(capture.LinkEthernet, 1), pkt(capture.LinkRaw, 101),
	}}
	s, err := newSource(src, "x.pcap", "first byte", compile)
	if err != nil {
		t.Fatal(err)
	}
	var p capture.Packet
	var got []byte
	for err == nil {
		if err = s.Next(&p); err == nil {
			got = append(got, p.Data[0])
		}
	}
	if string(got) != "\x01\x00\x01" {
		t.Errorf("kept %v, want [1 0 1]", got)
	}
	if err == nil || !strings.HasPrefix(err.Error(), `"x.pcap": filter "first byte"`) {
		t.Errorf("error %v, want one naming the file and the expression", err)
	}
	if err2 := s.Next(&p); err2 != err {
		t.Errorf("error not sticky: %v then %v", err, err2)
	}
	if want := []uint32{1, 0, 1, 101}; len(compiled) != len(want) {
		t.Errorf("compiled for %v, want %v", compiled, want)
	}
	s.Close()
	if !src.closed {
		t.Error("Close did not close the source")
	}
	if s, err := Source(src, "x", ""); s != capture.Source(src) || err != nil {
		t.Error("an empty expression should leave the source as it is")
	}
}

// pcapBytes is a classic pcap file (microseconds, version 2.4) in byte
// order bo, with one record.
func pcapBytes(bo binary.AppendByteOrder, link uint32, data []byte) []byte {
	b := bo.AppendUint32(nil, 0xa1b2c3d4)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint16(b, 4)
	b = bo.AppendUint64(b, 0) // thiszone, sigfigs
	b = bo.AppendUint32(b, 65535)
	b = bo.AppendUint32(b, link)
	b = bo.AppendUint64(b, 1) // ts_sec, ts_usec (in either order: 0 and 1)
	b = bo.AppendUint32(b, uint32(len(data)))
	b = bo.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// TestFilteredSourceAtOpen shows that a file's header decides the link
// type, so a filter that does not compile for it fails before any record
// is read, and that the file's byte order reaches the compiler.
func TestFilteredSourceAtOpen(t *testing.T) {
	var gotLink uint32
	var gotSwapped bool
	calls := 0
	compile := func(expr string, link uint32, snaplen int, swapped bool) ([]bpf.RawInstruction, error) {
		calls++
		gotLink, gotSwapped = link, swapped
		if link == uint32(capture.LinkRaw) {
			return nil, errors.New(`filter "ether host 1:2:3:4:5:6": no link-level addresses`)
		}
		return nil, nil
	}
	var native, other binary.AppendByteOrder = binary.LittleEndian, binary.BigEndian
	if binary.NativeEndian.Uint16([]byte{0, 1}) == 1 {
		native, other = other, native
	}
	for _, tt := range []struct {
		name    string
		file    []byte
		link    capture.LinkType
		swapped bool
		err     bool
	}{
		{"raw", pcapBytes(native, uint32(capture.LinkRaw), []byte{0x45}), capture.LinkRaw, false, true},
		{"swapped", pcapBytes(other, uint32(capture.LinkEthernet), []byte{1}), capture.LinkEthernet, true, false},
	} {
		src, err := capture.NewReader(bytes.NewReader(tt.file), tt.name+".pcap")
		if err != nil {
			t.Fatal(err)
		}
		calls = 0
		_, err = newSource(src, tt.name+".pcap", "ether host 1:2:3:4:5:6", compile)
		if calls != 1 || gotLink != uint32(tt.link) || gotSwapped != tt.swapped {
			t.Errorf("%s: %d compilations, for link type %d, swapped %v; want 1, %d, %v", tt.name, calls, gotLink, gotSwapped, tt.link, tt.swapped)
		}
		if tt.err != (err != nil) {
			t.Errorf("%s: error %v", tt.name, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), `"raw.pcap": filter "ether host`) {
			t.Errorf("%s: error %q does not name the file and the filter", tt.name, err)
		}
	}
}
