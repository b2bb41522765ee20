package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"testing/iotest"
)

// inPlaceFrames are frames of many sizes adding up to several read
// buffers, so records straddle the buffer's end at many offsets, and
// three of big bytes.
func inPlaceFrames(big int) [][]byte {
	var frames [][]byte
	for i := range 3000 {
		n := 14 + (i*7919)%1500
		if i%1000 == 500 {
			n = big
		}
		f := make([]byte, n)
		binary.LittleEndian.PutUint32(f, uint32(i))
		for k := 4; k < n; k++ {
			f[k] = byte(i + k)
		}
		frames = append(frames, f)
	}
	return frames
}

// readFrames reads every record of src and checks each against frames
// as soon as it is delivered (Data is valid until the next Next).
func readFrames(t *testing.T, src Source, frames [][]byte) {
	t.Helper()
	var p Packet
	for i, want := range frames {
		if err := src.Next(&p); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !bytes.Equal(p.Data, want) || p.CapLen != uint32(len(want)) || p.Sec != int64(i) {
			t.Fatalf("record %d: %d bytes at second %d, want %d bytes at second %d, or the bytes differ", i, len(p.Data), p.Sec, len(want), i)
		}
		if cap(p.Data) != len(p.Data) {
			t.Fatalf("record %d: Data has room for %d bytes more, which belong to the next records", i, cap(p.Data)-len(p.Data))
		}
	}
	if err := src.Next(&p); err != io.EOF {
		t.Fatalf("after the last record: %v, want io.EOF", err)
	}
}

// TestReadInPlace: records decoded in the read buffer come out whole and
// in order wherever they fall in it, whether the input fills the buffer
// in large reads or a byte at a time (a pipe). Frames as large as the
// buffer make pcap records that fill it and pcapng blocks larger than it
// (read through the copying path).
func TestReadInPlace(t *testing.T) {
	frames := inPlaceFrames(readBufferSize)
	var recs []pcapRec
	for i, f := range frames {
		recs = append(recs, rec(uint32(i), 0, f))
	}
	h := stdPcap()
	h.snaplen = readBufferSize
	pcap := pcapFile(h, recs...)

	w := newNG(le).idb(1, 0) // microseconds
	for i, f := range frames {
		w.packet(0, uint64(i)*1_000_000, f)
	}
	ng := w.bytes()

	for _, c := range []struct {
		name   string
		data   []byte
		frames [][]byte
	}{{"pcap", pcap, frames}, {"pcapng", ng, frames}} {
		for _, slow := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(c.data)
			if slow {
				r = iotest.OneByteReader(r)
			}
			src, err := NewReader(r, c.name)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			readFrames(t, src, c.frames)
		}
	}
}
