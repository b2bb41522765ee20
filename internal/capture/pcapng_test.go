package capture

import (
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

var le, be = binary.LittleEndian, binary.BigEndian

// TestPcapngTwoInterfaces reads a section with two Ethernet interfaces of
// different resolutions and offsets, packets interleaved, in both byte
// orders.
func TestPcapngTwoInterfaces(t *testing.T) {
	for _, bo := range []byteOrder{le, be} {
		w := newNG(bo)
		w.idb(1, 65535, w.tsoffset(100), w.endOfOpt())   // microseconds, +100 s
		w.idb(1, 65535, w.tsresol(9), w.tsoffset(-1000)) // nanoseconds, -1000 s
		w.packet(0, 1600000000_123456, []byte("on eth0"))
		w.packet(1, 1600000000_987654321, []byte("on eth1"))
		w.epb(0, 5, 3, 1514, []byte("cut"))
		recs := mustReadAll(t, w.bytes())
		want := []got{
			{Sec: 1600000100, Usec: 123456, CapLen: 7, Len: 7, LinkType: LinkEthernet, Data: "on eth0"},
			{Sec: 1599999000, Usec: 987654, CapLen: 7, Len: 7, LinkType: LinkEthernet, Data: "on eth1"},
			{Sec: 100, Usec: 5, CapLen: 3, Len: 1514, LinkType: LinkEthernet, Data: "cut"},
		}
		if !reflect.DeepEqual(recs, want) {
			t.Errorf("%v: got %+v\nwant %+v", bo, recs, want)
		}
	}
}

// TestPcapngTimestamps follows pcap_ng_next_packet's conversion: seconds are
// t / tsresol + tsoffset in uint64 arithmetic; the fraction t % tsresol is
// scaled to microseconds by a factor for powers of 10, by *10^6/tsresol for
// powers of 2 (wrapping in uint64 as libpcap does), and stored as an int.
func TestPcapngTimestamps(t *testing.T) {
	tests := []struct {
		name     string
		resol    int // -1: no if_tsresol option
		offset   int64
		ts       uint64
		wantSec  int64
		wantUsec int64
	}{
		{"default micro", -1, 0, 1600000000_000001, 1600000000, 1},
		{"10^-6", 6, 0, 1600000000_999999, 1600000000, 999999},
		{"10^-9 truncates", 9, 0, 1600000000_999999999, 1600000000, 999999},
		{"10^-3", 3, 0, 1600000000_123, 1600000000, 123000},
		{"10^0", 0, 0, 1600000000, 1600000000, 0},
		{"10^-19", 19, 0, 18446744073709551615, 1, 844674},
		{"2^-20", 0x80 | 20, 0, 5<<20 | 524288, 5, 500000},
		{"2^-10", 0x80 | 10, 0, 5<<10 | 512, 5, 500000},
		{"2^0", 0x80, 0, 7, 7, 0},
		{"2^-30 scales down", 0x80 | 30, 0, 1<<30 | 1<<29, 1, 500000},
		// (2^46-1)*10^6 overflows 64 bits; libpcap's wrapped result is
		// 213567, not 999999. Likewise 2^62*10^6 wraps to 0.
		{"2^-46 wraps", 0x80 | 46, 0, 1<<46 - 1, 0, 213567},
		{"2^-63 wraps", 0x80 | 63, 0, 1<<63 + 1<<62, 1, 0},
		{"negative offset", 6, -1600000000, 1600000000_000002, 0, 2},
		{"offset wraps below zero", 6, -2, 1_000000, -1, 0},
		{"seconds beyond int32", -1, 0, 5000000000_000000, 5000000000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newNG(le)
			var opts [][]byte
			if tt.resol >= 0 {
				opts = append(opts, w.tsresol(byte(tt.resol)))
			}
			if tt.offset != 0 {
				opts = append(opts, w.tsoffset(tt.offset))
			}
			w.idb(1, 0, opts...)
			w.packet(0, tt.ts, []byte("x"))
			recs := mustReadAll(t, w.bytes())
			if recs[0].Sec != tt.wantSec || recs[0].Usec != tt.wantUsec {
				t.Fatalf("got %d.%d; want %d.%d", recs[0].Sec, recs[0].Usec, tt.wantSec, tt.wantUsec)
			}
		})
	}
}

// TestPcapngSPB reads Simple Packet Blocks: interface 0, no timestamp (so
// the interface's offset), caplen = len cut to the snapshot length.
func TestPcapngSPB(t *testing.T) {
	for _, bo := range []byteOrder{le, be} {
		w := newNG(bo)
		w.idb(113, 8, w.tsoffset(42))
		w.spb(5, []byte("short"))
		w.spb(20, []byte("0123456789abcdefghij"))
		recs := mustReadAll(t, w.bytes())
		want := []got{
			{Sec: 42, CapLen: 5, Len: 5, LinkType: LinkLinuxSLL, Data: "short"},
			{Sec: 42, CapLen: 8, Len: 20, LinkType: LinkLinuxSLL, Data: "01234567"},
		}
		if !reflect.DeepEqual(recs, want) {
			t.Errorf("%v: got %+v\nwant %+v", bo, recs, want)
		}
	}
}

// TestPcapngPacketBlock reads the obsolete Packet Block (16-bit interface
// id) and skips block types libpcap does not deliver.
func TestPcapngPacketBlock(t *testing.T) {
	w := newNG(be)
	w.idb(1, 0)
	w.block(0x00000005, []byte("interface statistics"))
	w.block(0x00000BAD, []byte("custom"))
	w.pb(0, 1600000000_000007, 4, 60, []byte("pkt!"))
	w.block(0x00000004, []byte("name resolution"))
	recs := mustReadAll(t, w.bytes())
	want := []got{{Sec: 1600000000, Usec: 7, CapLen: 4, Len: 60, LinkType: LinkEthernet, Data: "pkt!"}}
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("got %+v\nwant %+v", recs, want)
	}
}

// TestPcapngSections checks that a new Section Header Block starts a new
// set of interfaces, which must still match the first interface of the
// file, and that libpcap's rejections apply to it.
func TestPcapngSections(t *testing.T) {
	w := newNG(le)
	w.idb(1, 0)
	w.idb(1, 0)
	w.packet(1, 1_000000, []byte("a"))
	w.shb(1, 0)
	w.idb(1, 262144, w.tsresol(3)) // adjusted snaplen 262144 = 0's
	w.packet(0, 2_500, []byte("b"))
	recs := mustReadAll(t, w.bytes())
	want := []got{
		{Sec: 1, CapLen: 1, Len: 1, LinkType: LinkEthernet, Data: "a"},
		{Sec: 2, Usec: 500000, CapLen: 1, Len: 1, LinkType: LinkEthernet, Data: "b"},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("got %+v\nwant %+v", recs, want)
	}

	// Interface 1 of the first section is gone in the second.
	w = newNG(le).idb(1, 0).idb(1, 0).shb(1, 2).idb(1, 0)
	off := int64(len(w.bytes()))
	w.packet(1, 0, []byte("x"))
	_, err := readAll(t, w.bytes())
	wantFormatError(t, err, off, false)

	// A section in the other byte order: libpcap reads its length in
	// the current order (here 0x1c000000, too big) and fails.
	w = newNG(le).idb(1, 0)
	off = int64(len(w.bytes()))
	other := newNG(be).idb(1, 0).packet(0, 0, []byte("x"))
	_, err = readAll(t, append(w.bytes(), other.bytes()...))
	wantFormatError(t, err, off, false)

	// Same length in both orders is caught by the byte-order magic.
	w = newNG(le).idb(1, 0)
	off = int64(len(w.bytes()))
	body := le.AppendUint32(nil, 0x4D3C2B1A)
	body = append(body, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	w.block(blockSHB, body)
	_, err = readAll(t, w.bytes())
	wantFormatError(t, err, off, false)
	if !strings.Contains(err.Error(), "different byte order") {
		t.Errorf("error %q; want it to name the byte order", err)
	}

	// Major version 2 in a later section.
	w = newNG(le).idb(1, 0)
	off = int64(len(w.bytes()))
	w.shb(2, 0)
	_, err = readAll(t, w.bytes())
	wantFormatError(t, err, off, false)
}

// TestPcapngInterfaceMismatch follows pcap_ng_next_packet: a later
// interface must have the first one's link type and adjusted snaplen. The
// link type check compares the first interface's DLT_ with the later one's
// LINKTYPE_, so two LINKTYPE_RAW (101, DLT_RAW 12) interfaces fail and 101
// followed by 12 passes, exactly as in libpcap 1.10.
func TestPcapngInterfaceMismatch(t *testing.T) {
	tests := []struct {
		name         string
		link0, link1 uint16
		snap0, snap1 uint32
		ok           bool
	}{
		{"same", 1, 1, 1500, 1500, true},
		{"other link type", 1, 113, 0, 0, false},
		{"other snaplen", 1, 1, 1500, 9000, false},
		{"0 and 262144 adjust alike", 1, 1, 0, 262144, true},
		{"0 and 2^31 adjust alike", 1, 1, 0, 1 << 31, true},
		{"two LINKTYPE_RAW", 101, 101, 0, 0, false},
		{"LINKTYPE_RAW then 12", 101, 12, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newNG(le).idb(tt.link0, tt.snap0).packet(0, 0, []byte("0"))
			off := int64(len(w.bytes()))
			w.idb(tt.link1, tt.snap1).packet(1, 0, []byte("1"))
			recs, err := readAll(t, w.bytes())
			if tt.ok {
				if err != io.EOF || len(recs) != 2 || recs[1].LinkType != LinkType(tt.link1) {
					t.Fatalf("got %+v, %v; want two records, the second of link type %d", recs, err, tt.link1)
				}
				return
			}
			if len(recs) != 1 {
				t.Errorf("%d records before the error; want 1", len(recs))
			}
			wantFormatError(t, err, off, false)
		})
	}
}

// TestPcapngOpenErrors covers what pcap_ng_check_header rejects, before
// any packet.
func TestPcapngOpenErrors(t *testing.T) {
	shb := newNG(le).bytes()
	tests := []struct {
		name      string
		file      []byte
		off       int64
		truncated bool
		msg       string
	}{
		{"version 1.1", newNG(le).bytes()[:0:0], 0, false, ""}, // filled below
		{"no interface", shb, 28, false, "no interface description block"},
		{"packet before interface", append(shb, newNG(le).packet(0, 0, nil).bytes()[28:]...), 28, false, "before any interface"},
		{"SHB cut", shb[:20], 0, true, "section header block: tried to read 28 bytes, only got 20"},
		{"IDB cut", newNG(le).idb(1, 0).bytes()[:40], 28, true, "block: tried to read 20 bytes, only got 12"},
		{"IDB header cut", newNG(le).idb(1, 0).bytes()[:31], 28, true, "block header"},
		{"IDB too short", newNG(le).block(blockIDB, []byte{1, 0}).bytes(), 28, false, "too short"},
		{"tsresol twice", func() []byte { w := newNG(le); return w.idb(1, 0, w.tsresol(6), w.tsresol(9)).bytes() }(), 28, false, "more than one if_tsresol"},
		{"tsoffset twice", func() []byte { w := newNG(le); return w.idb(1, 0, w.tsoffset(1), w.tsoffset(1)).bytes() }(), 28, false, "more than one if_tsoffset"},
		{"tsresol 2^-64", func() []byte { w := newNG(le); return w.idb(1, 0, w.tsresol(0x80|64)).bytes() }(), 28, false, "too high"},
		{"tsresol 10^-20", func() []byte { w := newNG(le); return w.idb(1, 0, w.tsresol(20)).bytes() }(), 28, false, "too high"},
		{"tsresol length 2", func() []byte { w := newNG(le); return w.idb(1, 0, w.opt(optTSResol, []byte{6, 6})).bytes() }(), 28, false, "if_tsresol with length 2"},
		{"tsoffset length 4", func() []byte { w := newNG(le); return w.idb(1, 0, w.opt(optTSOffset, []byte{1, 2, 3, 4})).bytes() }(), 28, false, "if_tsoffset with length 4"},
		{"endofopt with length", func() []byte { w := newNG(le); return w.idb(1, 0, w.opt(optEndOfOpt, []byte{1})).bytes() }(), 28, false, "opt_endofopt with length 1"},
		{"option runs past block", func() []byte {
			w := newNG(le)
			o := w.opt(2, []byte("eth0"))
			le.PutUint16(o[2:], 40)
			return w.idb(1, 0, o).bytes()
		}(), 28, false, "too short"},
	}
	tests[0].file = append(le.AppendUint32(nil, blockSHB), newNG(le).bytes()[4:]...)
	le.PutUint16(tests[0].file[14:], 1)
	tests[0].msg = "unsupported pcapng version 1.1"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(t, tt.file)
			wantFormatError(t, err, tt.off, tt.truncated)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q; want it to say %q", err, tt.msg)
			}
		})
	}

	// Options after opt_endofopt are ignored, even invalid ones; and
	// version 1.2 is read like 1.0.
	w := &ngFile{bo: le}
	w.shb(1, 2)
	w.idb(1, 0, w.endOfOpt(), w.tsresol(6), w.tsresol(6))
	w.packet(0, 1, []byte("x"))
	if recs := mustReadAll(t, w.bytes()); len(recs) != 1 {
		t.Fatalf("%d records; want 1", len(recs))
	}
}

// TestPcapngDamaged covers the per-block errors after the header, each at
// the offset where the bad block starts, after the good packets.
func TestPcapngDamaged(t *testing.T) {
	base := func() *ngFile {
		return newNG(le).idb(1, 100).packet(0, 1, []byte("good"))
	}
	start := int64(len(base().bytes()))
	patch := func(f func(b []byte)) []byte {
		b := base().packet(0, 2, []byte("0123456789")).bytes()
		f(b[start:])
		return b
	}
	tests := []struct {
		name      string
		file      []byte
		truncated bool
		msg       string
	}{
		{"block header cut", base().packet(0, 2, nil).bytes()[:start+5], true, "block header: tried to read 8 bytes, only got 5"},
		{"block cut", base().packet(0, 2, []byte("0123456789")).bytes()[:start+30], true, "block: tried to read 44 bytes, only got 30"},
		{"length below 12", patch(func(b []byte) { le.PutUint32(b[4:], 8) }), false, "block length 8 < 12"},
		{"length not a multiple of 4", patch(func(b []byte) { le.PutUint32(b[4:], 45) }), false, "not a multiple of 4"},
		{"length above the maximum", patch(func(b []byte) { le.PutUint32(b[4:], 16<<20+4) }), false, "block length 16777220 > maximum 16777216"},
		{"absurd length", patch(func(b []byte) { le.PutUint32(b[4:], 0xFFFFFFFC) }), false, "> maximum"},
		{"length beyond the file", patch(func(b []byte) { le.PutUint32(b[4:], 16<<20) }), true, "only got 44"},
		{"trailer mismatch", patch(func(b []byte) { le.PutUint32(b[40:], 48) }), false, "block length 44 in header and 48 in trailer"},
		{"EPB too short", base().block(blockEPB, make([]byte, 16)).bytes(), false, "block of type 6 too short"},
		{"SPB too short", base().block(blockSPB, nil).bytes(), false, "block of type 3 too short"},
		{"PB too short", base().block(blockPB, make([]byte, 12)).bytes(), false, "block of type 2 too short"},
		{"SHB too short", base().block(blockSHB, make([]byte, 12)).bytes(), false, "block of type 168627466 too short"},
		{"caplen beyond the block", patch(func(b []byte) { le.PutUint32(b[20:], 13) }), false, "block of type 6 too short"},
		{"caplen above snaplen", base().epb(0, 2, 101, 101, make([]byte, 101)).bytes(), false, "invalid caplen 101, bigger than snaplen of 100"},
		{"unknown interface", base().packet(1, 2, []byte("x")).bytes(), false, "packet on interface 1"},
		{"absurd interface", base().packet(0xFFFFFFFF, 2, []byte("x")).bytes(), false, "packet on interface 4294967295"},
		{"bad IDB in stream", func() []byte { w := base(); return w.idb(1, 100, w.tsresol(99)).bytes() }(), false, "too high"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := readAll(t, tt.file)
			if len(recs) != 1 || recs[0].Data != "good" {
				t.Errorf("records before the error: %+v; want the good one", recs)
			}
			wantFormatError(t, err, start, tt.truncated)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q; want it to say %q", err, tt.msg)
			}
		})
	}
}

// TestPcapngMaxBlockDBus checks that a D-Bus interface raises the maximum
// block size above 16 MiB, as libpcap's MAX_BLOCKSIZE_FOR_SNAPLEN does.
func TestPcapngMaxBlockDBus(t *testing.T) {
	w := newNG(le).idb(dltDBUS, 0)
	off := int64(len(w.bytes()))
	b := le.AppendUint32(w.bytes(), blockEPB)
	b = le.AppendUint32(b, 32<<20)
	_, err := readAll(t, b)
	// Not rejected for its size: it runs into the end of the file.
	wantFormatError(t, err, off, true)
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("error %v; want truncation", err)
	}
}
