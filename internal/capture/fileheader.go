package capture

import "encoding/binary"

// FileHeader is implemented by the Sources of Open and NewReader. It tells
// what a filter compiled for the records depends on, as libpcap knows it
// once pcap_open_offline has read the file's header, so a filter can be
// compiled (and a bad expression refused) before any record is read;
// internal/filter.Source asks it.
type FileHeader interface {
	Source
	// FilterInfo returns the link type of the file (classic pcap) or of
	// the first interface of the current section (pcapng: every interface
	// has the first one's), and swapped true when the file's byte order is
	// not the host's. known is false only while a pcapng reader is between
	// sections, before the new one describes an interface; the readers
	// Open and NewReader return have read the first interface.
	FilterInfo() (link LinkType, swapped, known bool)
}

// FilterInfo implements FileHeader.
func (r *pcapReader) FilterInfo() (link LinkType, swapped, known bool) {
	return r.link, r.big != hostBigEndian(), true
}

// FilterInfo implements FileHeader.
func (r *pcapngReader) FilterInfo() (link LinkType, swapped, known bool) {
	if len(r.ifaces) == 0 {
		return 0, r.big != hostBigEndian(), false
	}
	return r.ifaces[0].link, r.big != hostBigEndian(), true
}

func hostBigEndian() bool { return binary.NativeEndian.Uint16([]byte{0, 1}) == 1 }
