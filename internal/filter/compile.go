package filter

import (
	"errors"
	"fmt"
)

// Netmask is the netmask pcap_compile gets, as NFStream passes it: it only
// matters to "ip broadcast", which then means host part all ones in a /24.
const Netmask = 0xffffff00

// ErrUnavailable is wrapped by Compile's error in a build without cgo,
// where libpcap's compiler is not linked in.
var ErrUnavailable = errors.New("filters need libpcap, and this program was built without cgo")

// CompileError is a filter expression libpcap could not compile, with
// libpcap's own message.
type CompileError struct {
	Expr string // the expression as given
	Msg  string // pcap_geterr's message
}

// Error returns the quoted expression and libpcap's message, for example
// `filter "tcp prot 80": can't parse filter expression: syntax error`.
func (e *CompileError) Error() string {
	return fmt.Sprintf("filter %q: %s", e.Expr, e.Msg)
}

// maxSnaplen bounds the snapshot length a filter is compiled for.
const maxSnaplen = 1 << 30

func checkSnaplen(expr string, snaplen int) error {
	if snaplen <= 0 || snaplen > maxSnaplen {
		return fmt.Errorf("filter %q: snapshot length %d out of range", expr, snaplen)
	}
	return nil
}

// DLT returns the DLT_ value libpcap uses on Linux for a LINKTYPE_ value
// (pcap-common.c, linktype_to_dlt): the number pcap_open_dead and
// pcap_compile expect. Only a few old link types below the matching range
// differ (LINKTYPE_RAW, 101, is DLT_RAW, 12); every other value maps to
// itself. Capture files and Packet.LinkType carry LINKTYPE_ values.
func DLT(link uint32) uint32 {
	switch link {
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
	return link
}
