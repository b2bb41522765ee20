package capture

import "math"

// maximumSnaplen is libpcap's MAXIMUM_SNAPLEN: the largest caplen it accepts
// for most link types.
const maximumSnaplen = 262144

// DLT_ values (Linux numbering) that libpcap's max_snaplen_for_dlt treats
// specially.
const (
	dltDBUS    = 231
	dltUSBPcap = 249
	dltEBHSCR  = 279
)

// linkTypeMask is libpcap's LT_LINKTYPE: the low 26 bits of a classic pcap
// header's link type are the LINKTYPE_ value; the upper 6 (LT_LINKTYPE_EXT)
// describe the FCS, which libpcap records but never strips.
const linkTypeMask = 0x03FFFFFF

// linktypeToDLT maps a LINKTYPE_ value to the DLT_ value libpcap 1.10 uses
// on Linux (pcap-common.c, linktype_to_dlt). Only a few LINKTYPE_ values
// below the matching range differ; everything else maps to itself.
func linktypeToDLT(lt uint32) uint32 {
	switch lt {
	case 100: // LINKTYPE_ATM_RFC1483
		return 11
	case 101: // LINKTYPE_RAW
		return 12
	case 102: // LINKTYPE_SLIP_BSDOS
		return 15
	case 103: // LINKTYPE_PPP_BSDOS
		return 16
	case 106: // LINKTYPE_ATM_CLIP
		return 19
	}
	return lt
}

// maxSnaplenForDLT is libpcap's max_snaplen_for_dlt: the largest caplen
// libpcap accepts in a record of the given DLT_.
func maxSnaplenForDLT(dlt uint32) uint32 {
	switch dlt {
	case dltDBUS:
		return 128 << 20
	case dltEBHSCR:
		return 8 << 20
	case dltUSBPcap:
		return 1 << 20
	}
	return maximumSnaplen
}

// adjustSnapshot is libpcap's pcap_adjust_snapshot: a snapshot length of 0
// or above INT_MAX is replaced by the maximum for the link type; any other
// value, however large, is kept.
func adjustSnapshot(dlt, snaplen uint32) uint32 {
	if snaplen == 0 || snaplen > math.MaxInt32 {
		return maxSnaplenForDLT(dlt)
	}
	return snaplen
}
