package capture

import (
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// A little-endian microsecond pcap with two Ethernet records, the second cut
// to 14 of its 60 bytes:
//
//	$ tcpdump -nn -tt -r lit.pcap
//	1600000000.123456 ARP, Request who-has 192.168.0.2 tell 192.168.0.1, length 28
//	1600000001.000005  [|arp]
var litPcap = []byte{
	// file header: magic, version 2.4, thiszone, sigfigs, snaplen 65535, linktype 1
	0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	// record 1: 1600000000 s, 123456 us, caplen 42, len 42
	0x00, 0x10, 0x5e, 0x5f, 0x40, 0xe2, 0x01, 0x00, 0x2a, 0x00, 0x00, 0x00,
	0x2a, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0xc0, 0xa8, 0x00, 0x02,
	// record 2: 1600000001 s, 5 us, caplen 14, len 60
	0x01, 0x10, 0x5e, 0x5f, 0x05, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00,
	0x3c, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x06,
}

func TestPcapLiteral(t *testing.T) {
	recs := mustReadAll(t, litPcap)
	if len(recs) != 2 {
		t.Fatalf("got %d records; want 2", len(recs))
	}
	want0 := got{Sec: 1600000000, Usec: 123456, CapLen: 42, Len: 42, LinkType: LinkEthernet, Data: string(litPcap[40:82])}
	want1 := got{Sec: 1600000001, Usec: 5, CapLen: 14, Len: 60, LinkType: LinkEthernet, Data: string(litPcap[98:112])}
	if recs[0] != want0 {
		t.Errorf("record 0 = %+v\nwant %+v", recs[0], want0)
	}
	if recs[1] != want1 {
		t.Errorf("record 1 = %+v\nwant %+v", recs[1], want1)
	}
}

// TestPcapTimestamps checks the struct timeval libpcap builds from the
// 32-bit fields: in a file of the host's (little-endian) order they are
// signed and sign-extended; in a byte-swapped file SWAPLONG yields an
// unsigned value, zero-extended. Nanosecond files are divided by 1000 with
// C's truncation toward zero. The values are what pcap_next_ex returns with
// libpcap 1.10.3 on x86-64.
func TestPcapTimestamps(t *testing.T) {
	tests := []struct {
		name      string
		bo        byteOrder
		magic     uint32
		sec, usec uint32
		wantSec   int64
		wantUsec  int64
	}{
		{"le micro", binary.LittleEndian, magicMicro, 1600000000, 999999, 1600000000, 999999},
		{"le micro negative", binary.LittleEndian, magicMicro, 0xFFFFFFFF, 0xFFFFFFF0, -1, -16},
		{"le micro 2^31", binary.LittleEndian, magicMicro, 0x80000000, 5, -2147483648, 5},
		{"le micro usec above 10^6", binary.LittleEndian, magicMicro, 1, 1500000, 1, 1500000},
		{"be micro", binary.BigEndian, magicMicro, 1600000000, 999999, 1600000000, 999999},
		{"be micro zero-extended", binary.BigEndian, magicMicro, 0xFFFFFFFF, 0xFFFFFFF0, 4294967295, 4294967280},
		{"le nano", binary.LittleEndian, magicNano, 1, 999999999, 1, 999999},
		{"le nano negative", binary.LittleEndian, magicNano, 1, 0xFFFFFA23, 1, -1}, // -1501 ns
		{"be nano zero-extended", binary.BigEndian, magicNano, 1, 0xFFFFFA23, 1, 4294965},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := stdPcap()
			h.bo, h.magic = tt.bo, tt.magic
			recs := mustReadAll(t, pcapFile(h, rec(tt.sec, tt.usec, []byte("abcd"))))
			if len(recs) != 1 || recs[0].Sec != tt.wantSec || recs[0].Usec != tt.wantUsec {
				t.Fatalf("got %+v; want sec %d usec %d", recs, tt.wantSec, tt.wantUsec)
			}
		})
	}
}

func TestPcapBigEndian(t *testing.T) {
	h := stdPcap()
	h.bo = binary.BigEndian
	h.linktype = 113
	recs := mustReadAll(t, pcapFile(h,
		rec(10, 20, []byte("first")),
		pcapRec{sec: 11, usec: 21, caplen: 6, length: 100, data: []byte("second")}))
	want := []got{
		{Sec: 10, Usec: 20, CapLen: 5, Len: 5, LinkType: LinkLinuxSLL, Data: "first"},
		{Sec: 11, Usec: 21, CapLen: 6, Len: 100, LinkType: LinkLinuxSLL, Data: "second"},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("got %+v\nwant %+v", recs, want)
	}
}

// TestPcapModified reads Kuznetzov's modified format (magic 0xa1b2cd34):
// 24-byte record headers, and for Ethernet libpcap adds 14 to the snapshot
// length (pcap_check_header assumes a cooked capture with a faked Ethernet
// header).
func TestPcapModified(t *testing.T) {
	for _, bo := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		h := stdPcap()
		h.bo, h.magic, h.snaplen = bo, magicKuznetzov, 10
		data := []byte("0123456789abcdefghijklmnop") // 26 bytes
		recs := mustReadAll(t, pcapFile(h,
			rec(1, 2, data[:24]), // within snaplen+14: kept whole
			rec(3, 4, data),      // above: cut to 24, rest skipped
			rec(5, 6, []byte("x"))))
		want := []got{
			{Sec: 1, Usec: 2, CapLen: 24, Len: 24, LinkType: LinkEthernet, Data: string(data[:24])},
			{Sec: 3, Usec: 4, CapLen: 24, Len: 26, LinkType: LinkEthernet, Data: string(data[:24])},
			{Sec: 5, Usec: 6, CapLen: 1, Len: 1, LinkType: LinkEthernet, Data: "x"},
		}
		if !reflect.DeepEqual(recs, want) {
			t.Fatalf("%v: got %+v\nwant %+v", bo, recs, want)
		}
	}
}

// TestPcapVersions follows pcap_check_header: 2.0 to 2.4 and DG/UX's 543.0
// are read; before 2.3 (and in 543.0) caplen and len are in the other
// order; in 2.3 they are swapped only when caplen > len; anything else is
// rejected.
func TestPcapVersions(t *testing.T) {
	tests := []struct {
		major, minor uint16
		wantErr      string
		swapped      bool
		maybe        bool
	}{
		{major: 2, minor: 4},
		{major: 2, minor: 3, maybe: true},
		{major: 2, minor: 2, swapped: true},
		{major: 2, minor: 0, swapped: true},
		{major: 543, minor: 0, swapped: true},
		{major: 1, minor: 5, wantErr: "archaic pcap version 1.5"},
		{major: 0, minor: 0, wantErr: "archaic pcap version 0.0"},
		{major: 2, minor: 5, wantErr: "unsupported pcap version 2.5"},
		{major: 3, minor: 0, wantErr: "unsupported pcap version 3.0"},
		{major: 543, minor: 1, wantErr: "unsupported pcap version 543.1"},
	}
	for _, tt := range tests {
		h := stdPcap()
		h.major, h.minor = tt.major, tt.minor
		// The first record stores (10, 60), the second (60, 10), both
		// with 10 bytes of data.
		file := pcapFile(h,
			pcapRec{sec: 1, caplen: 10, length: 60, data: []byte("0123456789")},
			pcapRec{sec: 2, caplen: 60, length: 10, data: []byte("abcdefghij")})
		recs, err := readAll(t, file)
		if tt.wantErr != "" {
			wantFormatError(t, err, 0, false)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%d.%d: error %v; want %q", tt.major, tt.minor, err, tt.wantErr)
			}
			continue
		}
		switch {
		case tt.swapped:
			// (10, 60) becomes caplen 60: only 20 bytes remain.
			if len(recs) != 0 || !errors.Is(err, ErrTruncated) {
				t.Errorf("%d.%d: got %+v, %v; want a truncated first record", tt.major, tt.minor, recs, err)
			}
		case tt.maybe:
			if err != io.EOF || len(recs) != 2 || recs[0].CapLen != 10 || recs[1].CapLen != 10 || recs[1].Len != 60 {
				t.Errorf("%d.%d: got %+v, %v; want both records with caplen 10, len 60", tt.major, tt.minor, recs, err)
			}
		default:
			// (60, 10) is read as caplen 60: runs past the end.
			if len(recs) != 1 || recs[0].CapLen != 10 || !errors.Is(err, ErrTruncated) {
				t.Errorf("%d.%d: got %+v, %v; want one record then truncation", tt.major, tt.minor, recs, err)
			}
		}
	}
}

// TestPcapLinkType checks that the upper six bits of the header's link type
// (LT_LINKTYPE_EXT, the FCS length) are masked off as LT_LINKTYPE does,
// and that the data keeps its FCS bytes.
func TestPcapLinkType(t *testing.T) {
	h := stdPcap()
	h.linktype = 0xF4000001 // FCS length 4 present, Ethernet
	recs := mustReadAll(t, pcapFile(h, rec(1, 1, []byte("frame+FCS!"))))
	if recs[0].LinkType != LinkEthernet || recs[0].Data != "frame+FCS!" {
		t.Fatalf("got %+v; want Ethernet with the data untouched", recs[0])
	}
	h.linktype = 101
	recs = mustReadAll(t, pcapFile(h, rec(1, 1, []byte{0x45})))
	if recs[0].LinkType != LinkRaw {
		t.Fatalf("link type %d; want LINKTYPE_RAW (101) as stored", recs[0].LinkType)
	}
}

// TestPcapCaplenAboveSnaplen follows pcap_next_packet: a caplen above the
// header's snapshot length (but within the maximum for the link type) is
// cut to the snapshot length, the rest of the record skipped.
func TestPcapCaplenAboveSnaplen(t *testing.T) {
	h := stdPcap()
	h.snaplen = 8
	recs := mustReadAll(t, pcapFile(h,
		pcapRec{sec: 1, usec: 1, caplen: 20, length: 20, data: []byte("0123456789abcdefghij")},
		rec(2, 2, []byte("wxyz"))))
	want := []got{
		{Sec: 1, Usec: 1, CapLen: 8, Len: 20, LinkType: LinkEthernet, Data: "01234567"},
		{Sec: 2, Usec: 2, CapLen: 4, Len: 4, LinkType: LinkEthernet, Data: "wxyz"},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("got %+v\nwant %+v", recs, want)
	}

	// The file ends within the snapshot part, or within the skipped part.
	for _, n := range []int{6, 10} {
		file := pcapFile(h, rec(1, 1, []byte("ok")),
			pcapRec{sec: 1, usec: 1, caplen: 20, length: 20, data: []byte("0123456789abcdefghij")[:n]})
		recs, err := readAll(t, file)
		if len(recs) != 1 {
			t.Errorf("cut at %d: %d records before the error; want 1", n, len(recs))
		}
		wantFormatError(t, err, 24+16+2, true)
	}
}

// TestPcapSnaplenAdjust follows pcap_adjust_snapshot and
// max_snaplen_for_dlt: a header snaplen of 0 or above INT_MAX becomes the
// link type's maximum; any other value is kept, however large. A caplen
// above the maximum is an error, with libpcap's two messages.
func TestPcapSnaplenAdjust(t *testing.T) {
	big := make([]byte, 262145)
	tests := []struct {
		name     string
		linktype uint32
		snaplen  uint32
		caplen   uint32
		wantCap  uint32 // 0: an error is wanted
		wantMsg  string
	}{
		{"snaplen 0 becomes 262144", 1, 0, 262144, 262144, ""},
		{"snaplen 0 caps at 262144", 1, 0, 262145, 0, "bigger than snaplen of 262144"},
		{"huge snaplen kept", 1, 268435708, 48, 48, ""},
		{"huge snaplen, caplen above maximum", 1, 268435708, 262145, 0, "bigger than maximum of 262144"},
		{"snaplen above INT_MAX", 1, 0x80000000, 262145, 0, "bigger than snaplen of 262144"},
		{"caplen above small snaplen and maximum", 1, 1000, 262145, 0, "bigger than snaplen of 1000"},
		{"D-Bus allows 128 MiB", 231, 0, 262145, 262145, ""},
		{"USBPcap allows 1 MiB", 249, 0, 262145, 262145, ""},
		{"EBHSCR allows 8 MiB", 279, 0, 262145, 262145, ""},
		{"FCS bits do not change the maximum", 0x14000000 | 231, 0, 262145, 262145, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := stdPcap()
			h.linktype, h.snaplen = tt.linktype, tt.snaplen
			file := pcapFile(h, pcapRec{sec: 1, caplen: tt.caplen, length: tt.caplen, data: big[:tt.caplen]})
			recs, err := readAll(t, file)
			if tt.wantCap == 0 {
				wantFormatError(t, err, 24, false)
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("error %q; want it to say %q", err, tt.wantMsg)
				}
				return
			}
			if err != io.EOF || len(recs) != 1 || recs[0].CapLen != tt.wantCap {
				t.Fatalf("got %d records (%v); want one of caplen %d", len(recs), err, tt.wantCap)
			}
		})
	}
}

// TestPcapDamaged checks the errors for files cut short or corrupt: each is
// a *FormatError at the offset of the bad record, after every good record
// was delivered.
func TestPcapDamaged(t *testing.T) {
	good := pcapFile(stdPcap(), rec(1, 1, []byte("0123456789")), rec(2, 2, []byte("abcdef")))
	// Record 1 at 24 (16 + 10 bytes), record 2 at 50 (16 + 6), end at 72.
	tests := []struct {
		name      string
		file      []byte
		wantRecs  int
		off       int64
		truncated bool
		msg       string
	}{
		{"file header cut", good[:20], 0, 0, true, "file header: tried to read 24 bytes, only got 20"},
		{"record header cut", good[:53], 1, 50, true, "record header: tried to read 16 bytes, only got 3"},
		{"record data cut", good[:70], 1, 50, true, "tried to read 6 captured bytes, only got 4"},
		{"first record data cut", good[:41], 0, 24, true, "tried to read 10 captured bytes, only got 1"},
		{"absurd caplen", pcapFile(stdPcap(), rec(1, 1, []byte("ok")),
			pcapRec{sec: 2, caplen: 0xFFFFFFFF, length: 1}), 1, 42, false, "invalid caplen 4294967295"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := readAll(t, tt.file)
			if len(recs) != tt.wantRecs {
				t.Errorf("%d records before the error; want %d", len(recs), tt.wantRecs)
			}
			wantFormatError(t, err, tt.off, tt.truncated)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q; want it to say %q", err, tt.msg)
			}
		})
	}

	// A clean end at a record boundary is io.EOF, and stays io.EOF.
	if recs := mustReadAll(t, good); len(recs) != 2 {
		t.Fatalf("%d records; want 2", len(recs))
	}
	if recs := mustReadAll(t, good[:24]); len(recs) != 0 {
		t.Fatalf("header only: %d records; want 0", len(recs))
	}
}

// TestPcapAbsurdLen checks that an absurd original length is kept as it is
// (libpcap does not check len), as in the corpus's fuzz capture.
func TestPcapAbsurdLen(t *testing.T) {
	h := stdPcap()
	h.snaplen = 268435708
	recs := mustReadAll(t, pcapFile(h, pcapRec{sec: 1953631157, usec: 0xFFEA9138, caplen: 4, length: 4093509168, data: []byte("abcd")}))
	if recs[0].Len != 4093509168 || recs[0].Usec != -1404616 {
		t.Fatalf("got %+v; want len 4093509168 and usec -1404616", recs[0])
	}
}
