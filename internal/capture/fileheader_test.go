package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

// TestFilterInfo checks what the readers tell a filter before any record
// is read: the link type of the header (or first interface), and whether
// the file's byte order is the host's.
func TestFilterInfo(t *testing.T) {
	var other, native byteOrder = binary.BigEndian, binary.LittleEndian
	if hostBigEndian() {
		other, native = native, other
	}
	raw := stdPcap()
	raw.linktype = uint32(LinkRaw) | 0x04000000 // FCS bits are masked off
	raw.bo = native
	sll := stdPcap()
	sll.linktype = uint32(LinkLinuxSLL)
	sll.bo = other
	for _, tt := range []struct {
		name    string
		file    []byte
		link    LinkType
		swapped bool
		known   bool
	}{
		{"pcap", pcapFile(raw, rec(1, 0, []byte{0x45})), LinkRaw, false, true},
		{"swapped pcap", pcapFile(sll, rec(1, 0, []byte{1})), LinkLinuxSLL, true, true},
		{"pcapng", newNG(native).idb(uint16(LinkEthernet), 65535).bytes(), LinkEthernet, false, true},
		{"swapped pcapng", newNG(other).idb(uint16(LinkIPv4), 0).idb(uint16(LinkIPv4), 0).bytes(), LinkIPv4, true, true},
		{"pcapng, two sections", newNG(native).idb(uint16(LinkEthernet), 0).shb(1, 0).bytes(), LinkEthernet, false, true},
	} {
		src, err := NewReader(bytes.NewReader(tt.file), tt.name)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		h, ok := src.(FileHeader)
		if !ok {
			t.Fatalf("%s: %T is not a FileHeader", tt.name, src)
		}
		link, swapped, known := h.FilterInfo()
		if link != tt.link || swapped != tt.swapped || known != tt.known {
			t.Errorf("%s: FilterInfo() = %d, %v, %v; want %d, %v, %v", tt.name, link, swapped, known, tt.link, tt.swapped, tt.known)
		}
	}

	// Past the header of a second section, before its first interface.
	src, err := NewReader(bytes.NewReader(newNG(native).idb(uint16(LinkEthernet), 0).shb(1, 0).bytes()), "sections")
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	if err := src.Next(&p); err != io.EOF {
		t.Fatalf("Next: %v, want io.EOF", err)
	}
	if _, _, known := src.(FileHeader).FilterInfo(); known {
		t.Error("FilterInfo knows a link type between sections")
	}
}
