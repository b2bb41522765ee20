package capture

import (
	"errors"
	"fmt"
)

// LinkType is a LINKTYPE_ value as stored in capture files.
type LinkType uint32

// Link types the decoder understands (LINKTYPE_ numbers from the pcap spec).
const (
	LinkNull      LinkType = 0
	LinkEthernet  LinkType = 1
	LinkPPP       LinkType = 9
	LinkRawBSD    LinkType = 12 // DLT_RAW on most BSDs; raw IP
	LinkPPPSerial LinkType = 50
	LinkRaw       LinkType = 101 // LINKTYPE_RAW; libpcap maps it to DLT_RAW
	LinkCHDLC     LinkType = 104
	LinkLinuxSLL  LinkType = 113
	LinkRadiotap  LinkType = 127
	LinkIPv4      LinkType = 228
	LinkIPv6      LinkType = 229
	LinkLinuxSLL2 LinkType = 276
)

// Packet is one captured record, as libpcap's pcap_next_ex would return it.
type Packet struct {
	// Sec and Usec are libpcap's struct timeval: seconds and microseconds,
	// as signed values (libpcap sign-extends the 32-bit fields of classic
	// little-endian pcap files and zero-extends those of big-endian ones;
	// nanosecond files are divided down to microseconds; pcapng timestamps
	// are scaled per interface). Usec is not normalised: libpcap passes
	// values of 10^6 and above, and negative ones, through.
	Sec  int64
	Usec int64
	// CapLen is the number of bytes in Data; Len the original length on the
	// wire as recorded in the file.
	CapLen uint32
	Len    uint32
	// LinkType is the link type of the file (pcap) or of the interface the
	// record was captured on (pcapng).
	LinkType LinkType
	// Data holds the captured bytes. It is valid until the next call to Next.
	Data []byte
}

// TimeMS is NFStream's packet time in ms: tv_sec*1000 + tv_usec/1000
// computed as its C engine does (the quotient in signed arithmetic, the
// rest in uint64), so negative values wrap as they do in NFStream.
func (p *Packet) TimeMS() uint64 {
	return uint64(p.Sec)*1000 + uint64(p.Usec/1000)
}

// Source delivers packets one at a time.
type Source interface {
	// Next fills p with the next record. It returns io.EOF at the clean end
	// of the input, and a *FormatError for input libpcap would reject.
	Next(p *Packet) error
	// Close releases the source's resources.
	Close() error
}

// ErrNotCapture is wrapped by the error returned when a file is neither a
// pcap nor a pcapng capture.
var ErrNotCapture = errors.New("not a pcap or pcapng capture")

// ErrTruncated is wrapped by errors for a record or block cut short by the
// end of the file.
var ErrTruncated = errors.New("truncated capture")

// ErrEmpty is wrapped by the error returned for an input with no bytes at
// all, such as an empty file or a pipe whose writer wrote nothing.
var ErrEmpty = errors.New("empty file")

// FormatError reports bad capture input: the file's name, the byte offset
// at which the bad header or record starts, and what is wrong with it.
type FormatError struct {
	Name   string
	Offset int64
	Err    error
}

// Error returns the quoted file name, the offset and the problem, for
// example `"a.pcap": offset 24: truncated capture: ...`.
func (e *FormatError) Error() string {
	return fmt.Sprintf("%q: offset %d: %v", e.Name, e.Offset, e.Err)
}

// Unwrap returns the underlying problem, so errors.Is finds ErrTruncated,
// ErrNotCapture or ErrEmpty through a FormatError.
func (e *FormatError) Unwrap() error { return e.Err }
