package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"testing/iotest"
)

// pcapSeeds are small classic pcap files covering each header variant.
func pcapSeeds() [][]byte {
	data := []byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x08\x00payload")
	var seeds [][]byte
	for _, bo := range []byteOrder{le, be} {
		for _, magic := range []uint32{magicMicro, magicNano, magicKuznetzov} {
			h := stdPcap()
			h.bo, h.magic = bo, magic
			seeds = append(seeds, pcapFile(h,
				rec(1600000000, 1, data),
				pcapRec{sec: 0xFFFFFFFF, usec: 999999999, caplen: 8, length: 1514, data: data[:8]}))
		}
	}
	h := stdPcap()
	h.snaplen, h.minor = 8, 3
	seeds = append(seeds, pcapFile(h, rec(1, 2, data), pcapRec{sec: 3, caplen: 60, length: 4, data: data[:4]}))
	h = stdPcap()
	h.linktype, h.snaplen = 0x14000000|dltDBUS, 0
	seeds = append(seeds, pcapFile(h, rec(1, 2, data)))
	return seeds
}

// pcapngSeeds are small pcapng files covering each block type and the
// timestamp options.
func pcapngSeeds() [][]byte {
	data := []byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x86\xddpayload")
	var seeds [][]byte
	for _, bo := range []byteOrder{le, be} {
		w := newNG(bo)
		w.idb(1, 0, w.tsresol(9), w.tsoffset(-5), w.endOfOpt())
		w.idb(1, 0, w.opt(2, []byte("eth1")), w.tsresol(0x80|20))
		w.packet(0, 1600000000_123456789, data)
		w.epb(1, 1600000000<<20, 8, 1514, data[:8])
		w.spb(uint32(len(data)), data)
		w.pb(1, 7, uint32(len(data)), uint32(len(data)), data)
		w.block(0x00000005, make([]byte, 16))
		w.shb(1, 2)
		w.idb(1, 262144, w.tsresol(3))
		w.packet(0, 9, data)
		seeds = append(seeds, w.bytes())
	}
	w := newNG(le).idb(101, 64).packet(0, 1, data).idb(12, 64).packet(1, 2, data)
	seeds = append(seeds, w.bytes())
	return seeds
}

func FuzzPcap(f *testing.F) {
	for _, s := range pcapSeeds() {
		f.Add(s)
	}
	f.Fuzz(checkAnyInput)
}

func FuzzPcapng(f *testing.F) {
	for _, s := range pcapngSeeds() {
		f.Add(s)
	}
	f.Fuzz(checkAnyInput)
}

// checkAnyInput reads data to its end and checks what any input must give:
// no panic, no hang (every record consumes input), records whose CapLen is
// the length of Data, and errors that are *FormatError naming the input at
// an offset within it, or wrap ErrNotCapture; an error is sticky.
func checkAnyInput(t *testing.T, data []byte) {
	checkChunking(t, data)
	src, err := NewReader(bytes.NewReader(data), "fuzz")
	if err != nil {
		checkInputError(t, err, len(data))
		return
	}
	defer src.Close()
	var p Packet
	for n := 0; ; n++ {
		err := src.Next(&p)
		if err == io.EOF {
			return
		}
		if err != nil {
			checkInputError(t, err, len(data))
			if again := src.Next(&p); again != err {
				t.Fatalf("Next after %v returned %v", err, again)
			}
			return
		}
		if int(p.CapLen) != len(p.Data) {
			t.Fatalf("record %d: CapLen %d, %d bytes of data", n, p.CapLen, len(p.Data))
		}
		if n > len(data)/12 {
			t.Fatalf("%d records from %d bytes", n, len(data))
		}
	}
}

func checkInputError(t *testing.T, err error, size int) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		if !errors.Is(err, ErrNotCapture) {
			t.Fatalf("error %v (%T) is neither a *FormatError nor ErrNotCapture", err, err)
		}
		return
	}
	if fe.Name != "fuzz" || fe.Offset < 0 || fe.Offset > int64(size) || fe.Err == nil {
		t.Fatalf("bad FormatError %+v for %d bytes of input", fe, size)
	}
}

// checkChunking reads data whole and in small reads of the input (half
// of what is asked, one byte at a time): the read buffer must give the
// same records and the same error however the input arrives.
func checkChunking(t *testing.T, data []byte) {
	want := readAllRecords(bytes.NewReader(data))
	for name, r := range map[string]io.Reader{
		"half reads":     iotest.HalfReader(bytes.NewReader(data)),
		"one-byte reads": iotest.OneByteReader(bytes.NewReader(data)),
	} {
		if got := readAllRecords(r); !slices.Equal(got, want) {
			t.Fatalf("with %s:\n%q\nwhole:\n%q", name, got, want)
		}
	}
}

// readAllRecords describes every record of r and how reading it ended.
func readAllRecords(r io.Reader) []string {
	src, err := NewReader(r, "fuzz")
	if err != nil {
		return []string{"open: " + err.Error()}
	}
	defer src.Close()
	var out []string
	var p Packet
	for {
		err := src.Next(&p)
		if err != nil {
			return append(out, "end: "+err.Error())
		}
		out = append(out, fmt.Sprintf("%d.%06d %d/%d link %d %x", p.Sec, p.Usec, p.CapLen, p.Len, p.LinkType, p.Data))
	}
}
