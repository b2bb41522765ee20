package capture

import (
	"encoding/binary"
	"io"
)

// pcapng, read the way libpcap 1.10's sf-pcapng.c reads it
// (pcap_ng_check_header up to the first Interface Description Block,
// pcap_ng_next_packet after that).

// Block types.
const (
	blockIDB = 0x00000001 // Interface Description Block
	blockPB  = 0x00000002 // Packet Block (obsolete)
	blockSPB = 0x00000003 // Simple Packet Block
	blockEPB = 0x00000006 // Enhanced Packet Block
	blockSHB = magicSHB   // Section Header Block
)

const (
	byteOrderMagic = 0x1A2B3C4D

	blockHeaderLen  = 8  // type, total length
	blockTrailerLen = 4  // total length again
	shbFixedLen     = 16 // byte-order magic, major, minor, section length
	idbFixedLen     = 8  // link type, reserved, snaplen
	epbFixedLen     = 20 // interface, timestamp high and low, caplen, len
	pbFixedLen      = 20 // interface (16 bits), drops, timestamp, caplen, len
	spbFixedLen     = 4  // len

	// shbInsaneMax is libpcap's BT_SHB_INSANE_MAX, checked on the first
	// Section Header Block only.
	shbInsaneMax = 1 << 20
	// initialMaxBlock is libpcap's INITIAL_MAX_BLOCKSIZE.
	initialMaxBlock = 16 << 20

	// IDB options.
	optEndOfOpt = 0
	optTSResol  = 9
	optTSOffset = 14

	// userTSResol is the resolution pcap_open_offline asks for:
	// PCAP_TSTAMP_PRECISION_MICRO.
	userTSResol = 1000000
)

// maxBlockForSnaplen is libpcap's MAX_BLOCKSIZE_FOR_SNAPLEN: an EPB holding
// a packet of the maximum snapshot length and 128 KiB of options.
func maxBlockForSnaplen(snaplen uint32) uint64 {
	return blockHeaderLen + epbFixedLen + uint64(snaplen) + 131072 + blockTrailerLen
}

// tsScale says how an interface's fractions of a second become
// microseconds (libpcap's tstamp_scale_type_t).
type tsScale uint8

const (
	scalePass    tsScale = iota // PASS_THROUGH
	scaleUpDec                  // SCALE_UP_DEC: multiply by factor
	scaleDownDec                // SCALE_DOWN_DEC: divide by factor
	scaleUpBin                  // SCALE_UP_BIN: multiply by 10^6, divide by tsresol
	scaleDownBin                // SCALE_DOWN_BIN: the same arithmetic
)

// ngInterface is what libpcap keeps per interface (struct pcap_ng_if), plus
// the interface's own link type for Packet.LinkType.
type ngInterface struct {
	link     LinkType
	tsresol  uint64
	scale    tsScale
	factor   uint64
	tsoffset uint64 // signed in the spec; libpcap 1.10 adds it as uint64_t
}

type pcapngReader struct {
	in       *input
	big      bool          // the file (every section of it) is big-endian
	dlt      uint32        // libpcap's p->linktype: the DLT_ of the first IDB
	snapshot uint32        // p->snapshot: the first IDB's adjusted snaplen
	maxBlock uint64        // ps->max_blocksize
	ifaces   []ngInterface // interfaces of the current section
	err      error         // sticky
}

func (r *pcapngReader) u16(b []byte) uint16 {
	if r.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *pcapngReader) u32(b []byte) uint32 {
	if r.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *pcapngReader) u64(b []byte) uint64 {
	if r.big {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

// openPcapng reads the first Section Header Block, whose block type is
// already read, and then blocks up to the first Interface Description Block,
// as pcap_ng_check_header does.
func openPcapng(in *input) (Source, error) {
	var lens [8]byte // total length, byte-order magic
	n, err := in.read(lens[:])
	if err != nil {
		return nil, err
	}
	if n < len(lens) {
		// libpcap: "possibly a weird short text file", not pcapng.
		return nil, &FormatError{Name: in.name, Offset: 0, Err: ErrNotCapture}
	}
	r := &pcapngReader{in: in, maxBlock: initialMaxBlock}
	switch binary.LittleEndian.Uint32(lens[4:]) {
	case byteOrderMagic:
	case 0x4D3C2B1A:
		r.big = true
	default:
		return nil, &FormatError{Name: in.name, Offset: 0, Err: ErrNotCapture}
	}
	total := r.u32(lens[:4])
	if total < blockHeaderLen+shbFixedLen+blockTrailerLen || total > shbInsaneMax {
		return nil, in.formatError(0, "section header block length %d outside %d..%d",
			total, blockHeaderLen+shbFixedLen+blockTrailerLen, shbInsaneMax)
	}
	// The first SHB's trailer, options and length alignment are not
	// checked; only its version is.
	rest := int(total) - 12
	got, err := in.fill(rest)
	if err != nil {
		return nil, err
	}
	if got < rest {
		return nil, in.formatError(0, "%w: section header block: tried to read %d bytes, only got %d",
			ErrTruncated, total, 12+got)
	}
	major, minor := r.u16(in.buf[0:]), r.u16(in.buf[2:])
	if !(major == 1 && (minor == 0 || minor == 2)) {
		return nil, in.formatError(0, "unsupported pcapng version %d.%d", major, minor)
	}

	for {
		start := in.off
		typ, body, err := r.readBlock()
		if err == io.EOF {
			return nil, in.formatError(start, "no interface description block")
		}
		if err != nil {
			return nil, err
		}
		switch typ {
		case blockIDB:
			if len(body) < idbFixedLen {
				return nil, r.tooShort(start, typ)
			}
			link := uint32(r.u16(body[0:]))
			snaplen := r.u32(body[4:])
			r.dlt = linktypeToDLT(link)
			if err := r.addInterface(start, LinkType(link), body[idbFixedLen:]); err != nil {
				return nil, err
			}
			r.snapshot = adjustSnapshot(r.dlt, snaplen)
			if m := maxBlockForSnaplen(maxSnaplenForDLT(r.dlt)); m > r.maxBlock {
				r.maxBlock = m
			}
			return r, nil
		case blockEPB, blockSPB, blockPB:
			return nil, in.formatError(start, "packet block before any interface description block")
		}
		// Any other block, another SHB included, is skipped unchecked.
	}
}

// readBlock reads the next block and returns its type and body (between
// the 8-byte header and the trailer), valid until the next read (see
// input.take), as libpcap's read_block does. It returns io.EOF when the input ends exactly before a
// block.
func (r *pcapngReader) readBlock() (uint32, []byte, error) {
	in := r.in
	start := in.off
	hdr, err := in.take(blockHeaderLen)
	if err != nil {
		return 0, nil, err
	}
	if len(hdr) == 0 {
		return 0, nil, io.EOF
	}
	if len(hdr) < blockHeaderLen {
		return 0, nil, in.formatError(start, "%w: block header: tried to read %d bytes, only got %d",
			ErrTruncated, blockHeaderLen, len(hdr))
	}
	typ := r.u32(hdr[0:])
	total := r.u32(hdr[4:])
	if total < blockHeaderLen+blockTrailerLen {
		return 0, nil, in.formatError(start, "block length %d < %d", total, blockHeaderLen+blockTrailerLen)
	}
	if total%4 != 0 {
		return 0, nil, in.formatError(start, "block length %d not a multiple of 4", total)
	}
	if uint64(total) > r.maxBlock {
		return 0, nil, in.formatError(start, "block length %d > maximum %d", total, r.maxBlock)
	}
	rest := int(total) - blockHeaderLen
	block, err := in.take(rest)
	if err != nil {
		return 0, nil, err
	}
	if len(block) < rest {
		return 0, nil, in.formatError(start, "%w: block: tried to read %d bytes, only got %d",
			ErrTruncated, total, blockHeaderLen+len(block))
	}
	body := block[:rest-blockTrailerLen]
	if trailer := r.u32(block[rest-blockTrailerLen:]); trailer != total {
		return 0, nil, in.formatError(start, "block length %d in header and %d in trailer", total, trailer)
	}
	return typ, body, nil
}

func (r *pcapngReader) tooShort(start int64, typ uint32) error {
	return r.in.formatError(start, "block of type %d too short", typ)
}

// addInterface appends an interface to the current section, reading its
// if_tsresol and if_tsoffset options as libpcap's add_interface and
// process_idb_options do.
func (r *pcapngReader) addInterface(start int64, link LinkType, opts []byte) error {
	ifc := ngInterface{link: link, tsresol: 1000000}
	binaryRes := false
	sawResol, sawOffset := false, false
options:
	for len(opts) != 0 {
		if len(opts) < 4 {
			return r.tooShort(start, blockIDB)
		}
		code, length := r.u16(opts[0:]), r.u16(opts[2:])
		opts = opts[4:]
		padded := (int(length) + 3) &^ 3
		if len(opts) < padded {
			return r.tooShort(start, blockIDB)
		}
		value := opts[:length]
		opts = opts[padded:]
		switch code {
		case optEndOfOpt:
			if length != 0 {
				return r.in.formatError(start, "interface description block: opt_endofopt with length %d", length)
			}
			break options // whatever follows is ignored
		case optTSResol:
			if length != 1 {
				return r.in.formatError(start, "interface description block: if_tsresol with length %d", length)
			}
			if sawResol {
				return r.in.formatError(start, "interface description block: more than one if_tsresol")
			}
			sawResol = true
			if v := value[0]; v&0x80 != 0 {
				shift := v & 0x7F
				if shift > 63 {
					return r.in.formatError(start, "interface description block: if_tsresol 2^-%d too high", shift)
				}
				binaryRes = true
				ifc.tsresol = 1 << shift
			} else {
				if v > 19 {
					return r.in.formatError(start, "interface description block: if_tsresol 10^-%d too high", v)
				}
				binaryRes = false
				ifc.tsresol = 1
				for range v {
					ifc.tsresol *= 10
				}
			}
		case optTSOffset:
			if length != 8 {
				return r.in.formatError(start, "interface description block: if_tsoffset with length %d", length)
			}
			if sawOffset {
				return r.in.formatError(start, "interface description block: more than one if_tsoffset")
			}
			sawOffset = true
			ifc.tsoffset = r.u64(value)
		}
	}
	switch {
	case ifc.tsresol == userTSResol:
		ifc.scale = scalePass
	case ifc.tsresol > userTSResol && binaryRes:
		ifc.scale = scaleDownBin
	case ifc.tsresol > userTSResol:
		ifc.scale = scaleDownDec
		ifc.factor = ifc.tsresol / userTSResol
	case binaryRes:
		ifc.scale = scaleUpBin
	default:
		ifc.scale = scaleUpDec
		ifc.factor = userTSResol / ifc.tsresol
	}
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

// Next reads blocks up to the next packet block. See Source.
func (r *pcapngReader) Next(p *Packet) error {
	if r.err != nil {
		return r.err
	}
	r.err = r.next(p)
	return r.err
}

func (r *pcapngReader) next(p *Packet) error {
	in := r.in
	for {
		start := in.off
		typ, body, err := r.readBlock()
		if err != nil {
			return err // io.EOF at a block boundary included
		}
		var iface, caplen, length uint32
		var t uint64
		var data []byte
		switch typ {
		case blockEPB:
			if len(body) < epbFixedLen {
				return r.tooShort(start, typ)
			}
			iface = r.u32(body[0:])
			t = uint64(r.u32(body[4:]))<<32 | uint64(r.u32(body[8:]))
			caplen = r.u32(body[12:])
			length = r.u32(body[16:])
			data = body[epbFixedLen:]
		case blockSPB:
			if len(body) < spbFixedLen {
				return r.tooShort(start, typ)
			}
			// The first interface; caplen is len cut to the snapshot
			// length; no timestamp.
			iface = 0
			length = r.u32(body[0:])
			caplen = min(length, r.snapshot)
			data = body[spbFixedLen:]
		case blockPB:
			if len(body) < pbFixedLen {
				return r.tooShort(start, typ)
			}
			iface = uint32(r.u16(body[0:]))
			t = uint64(r.u32(body[4:]))<<32 | uint64(r.u32(body[8:]))
			caplen = r.u32(body[12:])
			length = r.u32(body[16:])
			data = body[pbFixedLen:]
		case blockIDB:
			if len(body) < idbFixedLen {
				return r.tooShort(start, typ)
			}
			link := uint32(r.u16(body[0:]))
			snaplen := r.u32(body[4:])
			// libpcap compares the first interface's DLT_ with this
			// interface's raw LINKTYPE_ value.
			if link != r.dlt {
				return in.formatError(start, "interface link type %d differs from the first interface's", link)
			}
			if adjustSnapshot(r.dlt, snaplen) != r.snapshot {
				return in.formatError(start, "interface snapshot length %d differs from the first interface's", snaplen)
			}
			if err := r.addInterface(start, LinkType(link), body[idbFixedLen:]); err != nil {
				return err
			}
			continue
		case blockSHB:
			if len(body) < shbFixedLen {
				return r.tooShort(start, typ)
			}
			switch r.u32(body[0:]) {
			case byteOrderMagic:
			case 0x4D3C2B1A:
				return in.formatError(start, "section with a different byte order")
			default:
				return in.formatError(start, "section with a bad byte-order magic")
			}
			if major := r.u16(body[4:]); major != 1 {
				return in.formatError(start, "unsupported pcapng major version %d", major)
			}
			// A new section has its own interfaces; they must still
			// match the first one.
			r.ifaces = r.ifaces[:0]
			continue
		default:
			continue
		}

		if iface >= uint32(len(r.ifaces)) {
			return in.formatError(start, "packet on interface %d, which has no interface description block", iface)
		}
		if caplen > r.snapshot {
			return in.formatError(start, "invalid caplen %d, bigger than snaplen of %d", caplen, r.snapshot)
		}
		if uint32(len(data)) < caplen {
			return r.tooShort(start, typ)
		}
		ifc := &r.ifaces[iface]
		sec := t/ifc.tsresol + ifc.tsoffset
		frac := t % ifc.tsresol
		switch ifc.scale {
		case scaleUpDec:
			frac *= ifc.factor
		case scaleDownDec:
			frac /= ifc.factor
		case scaleUpBin, scaleDownBin:
			frac = frac * userTSResol / ifc.tsresol // wraps as libpcap's uint64_t does
		}
		p.Sec = int64(sec)
		p.Usec = int64(int32(uint32(frac))) // libpcap stores (int)frac
		p.CapLen = caplen
		p.Len = length
		p.LinkType = ifc.link
		p.Data = data[:caplen:caplen]
		return nil
	}
}

// Close closes the file, unless the caller owns the reader.
func (r *pcapngReader) Close() error {
	r.err = errClosed(r.in.name)
	return r.in.close()
}

// Interrupt stops a read waiting for input. See Interrupter.
func (r *pcapngReader) Interrupt() { r.in.interrupt() }

// OnRead sets the hook called before every read of the input. See
// ReadHook.
func (r *pcapngReader) OnRead(fn func(bytesRead uint64)) { r.in.raw.hook = fn }
