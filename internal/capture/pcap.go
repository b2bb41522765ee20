package capture

import (
	"encoding/binary"
	"io"
	"math"
)

// Classic pcap, read the way libpcap 1.10's sf-pcap.c reads it
// (pcap_check_header for the file header, pcap_next_packet per record).

const (
	pcapFileHeaderLen    = 24
	pcapRecordHeaderLen  = 16 // struct pcap_sf_pkthdr
	kuznetzovRecordHdrLn = 24 // struct pcap_sf_patched_pkthdr, padded

	pcapVersionMajor = 2
	pcapVersionMinor = 4

	dltEN10MB = 1
)

// lengthOrder says whether a file stores caplen and len in the pre-2.3 order.
type lengthOrder uint8

const (
	lengthsInOrder      lengthOrder = iota // NOT_SWAPPED
	lengthsSwapped                         // SWAPPED: versions before 2.3, and 543.0
	lengthsMaybeSwapped                    // MAYBE_SWAPPED: 2.3, swapped when caplen > len
)

type pcapReader struct {
	in       *input
	big      bool // the file is big-endian
	nano     bool // nanosecond magic: tv_usec is divided by 1000
	lengths  lengthOrder
	hdrLen   int
	link     LinkType // LT_LINKTYPE of the header
	snapshot uint32   // p->snapshot after pcap_adjust_snapshot
	maxCap   uint32   // max_snaplen_for_dlt(p->linktype)
	err      error    // sticky: every Next after the first failure returns it
}

// openPcap reads the rest of a classic pcap file header after its magic
// number, which is already read; big says it was found byte-swapped.
func openPcap(in *input, magic uint32, big bool) (Source, error) {
	var h [pcapFileHeaderLen - 4]byte
	n, err := in.read(h[:])
	if err != nil {
		return nil, err
	}
	if n < len(h) {
		return nil, in.formatError(0, "%w: file header: tried to read %d bytes, only got %d",
			ErrTruncated, pcapFileHeaderLen, 4+n)
	}
	order := binary.ByteOrder(binary.LittleEndian)
	if big {
		order = binary.BigEndian
	}
	major := order.Uint16(h[0:])
	minor := order.Uint16(h[2:])
	// h[4:8] thiszone and h[8:12] sigfigs are ignored, as libpcap does.
	snaplen := order.Uint32(h[12:])
	linktype := order.Uint32(h[16:])

	if major < pcapVersionMajor {
		return nil, in.formatError(0, "archaic pcap version %d.%d", major, minor)
	}
	if !(major == pcapVersionMajor && minor <= pcapVersionMinor) && !(major == 543 && minor == 0) {
		return nil, in.formatError(0, "unsupported pcap version %d.%d", major, minor)
	}

	r := &pcapReader{
		in:     in,
		big:    big,
		nano:   magic == magicNano,
		hdrLen: pcapRecordHeaderLen,
		link:   LinkType(linktype & linkTypeMask),
	}
	dlt := linktypeToDLT(linktype & linkTypeMask)
	r.snapshot = adjustSnapshot(dlt, snaplen)
	r.maxCap = maxSnaplenForDLT(dlt)

	switch {
	case major == 2 && minor < 3, major == 543:
		r.lengths = lengthsSwapped
	case major == 2 && minor == 3:
		r.lengths = lengthsMaybeSwapped
	}

	if magic == magicKuznetzov {
		r.hdrLen = kuznetzovRecordHdrLn
		if dlt == dltEN10MB {
			// libpcap assumes a cooked-mode capture with a faked
			// 14-byte Ethernet header added to each packet.
			if r.snapshot <= math.MaxInt32-14 {
				r.snapshot += 14
			} else {
				r.snapshot = math.MaxInt32
			}
		}
	}
	return r, nil
}

// Next reads the next record. See Source.
func (r *pcapReader) Next(p *Packet) error {
	if r.err != nil {
		return r.err
	}
	r.err = r.next(p)
	return r.err
}

func (r *pcapReader) next(p *Packet) error {
	in := r.in
	start := in.off
	// The header's bytes are valid until the record's are read.
	h, err := in.take(r.hdrLen)
	if err != nil {
		return err
	}
	if len(h) == 0 {
		return io.EOF
	}
	if len(h) < r.hdrLen {
		return in.formatError(start, "%w: record header: tried to read %d bytes, only got %d",
			ErrTruncated, r.hdrLen, len(h))
	}

	var sec, usec int64
	var caplen, length uint32
	if r.big {
		// libpcap swaps with SWAPLONG, whose result is unsigned: the
		// seconds and microseconds of a byte-swapped file are
		// zero-extended into the 64-bit struct timeval.
		sec = int64(binary.BigEndian.Uint32(h[0:]))
		usec = int64(binary.BigEndian.Uint32(h[4:]))
		caplen = binary.BigEndian.Uint32(h[8:])
		length = binary.BigEndian.Uint32(h[12:])
	} else {
		// Native order: the signed 32-bit fields are sign-extended.
		sec = int64(int32(binary.LittleEndian.Uint32(h[0:])))
		usec = int64(int32(binary.LittleEndian.Uint32(h[4:])))
		caplen = binary.LittleEndian.Uint32(h[8:])
		length = binary.LittleEndian.Uint32(h[12:])
	}
	if r.nano {
		usec /= 1000 // SCALE_DOWN; truncates toward zero as C does
	}
	switch r.lengths {
	case lengthsMaybeSwapped:
		if caplen <= length {
			break
		}
		fallthrough
	case lengthsSwapped:
		caplen, length = length, caplen
	}

	if caplen > r.maxCap {
		if caplen > r.snapshot {
			return in.formatError(start, "invalid caplen %d, bigger than snaplen of %d", caplen, r.snapshot)
		}
		return in.formatError(start, "invalid caplen %d, bigger than maximum of %d", caplen, r.maxCap)
	}

	if caplen > r.snapshot {
		// libpcap reads the first snapshot bytes, discards the rest of
		// the record and reports caplen as the snapshot length. The
		// bytes are copied (fill): skipping the rest may refill the
		// read buffer.
		got, err := in.fill(int(r.snapshot))
		if err != nil {
			return err
		}
		if got < int(r.snapshot) {
			return in.formatError(start, "%w: tried to read %d captured bytes, only got %d",
				ErrTruncated, r.snapshot, got)
		}
		rest := int(caplen - r.snapshot)
		skipped, err := in.discard(rest)
		if err != nil {
			return err
		}
		if skipped < rest {
			return in.formatError(start, "%w: tried to read %d captured bytes, only got %d",
				ErrTruncated, caplen, got+skipped)
		}
		caplen = r.snapshot
		p.Data = in.buf[:caplen:caplen]
	} else {
		data, err := in.take(int(caplen))
		if err != nil {
			return err
		}
		if len(data) < int(caplen) {
			return in.formatError(start, "%w: tried to read %d captured bytes, only got %d",
				ErrTruncated, caplen, len(data))
		}
		p.Data = data
	}

	p.Sec = sec
	p.Usec = usec
	p.CapLen = caplen
	p.Len = length
	p.LinkType = r.link
	return nil
}

// Close closes the file, unless the caller owns the reader.
func (r *pcapReader) Close() error {
	r.err = errClosed(r.in.name)
	return r.in.close()
}

// Interrupt stops a read waiting for input. See Interrupter.
func (r *pcapReader) Interrupt() { r.in.interrupt() }

// OnRead sets the hook called before every read of the input. See
// ReadHook.
func (r *pcapReader) OnRead(fn func(bytesRead uint64)) { r.in.raw.hook = fn }
