// Package capture is the first stage of the pipeline: it delivers link-layer
// records from capture files (pcap and pcapng, detected by content) and from
// live interfaces (OpenLive: AF_PACKET TPACKET_V3 rings, one per meter, in
// one fanout group; live_linux.go). Filtering is package internal/filter's:
// live capture takes its compiled program (LiveConfig.Program) to the
// kernel, and file readers tell it what the program depends on
// (FileHeader).
//
// Open (a file name, "-" for standard input) and NewReader (any io.Reader)
// read and check the file header and return a Source; Source.Next then
// fills a Packet per record, io.EOF at the clean end of the input.
//
// Records are interpreted as libpcap 1.10 interprets them, because NFStream
// reads captures through libpcap (pcap_open_offline, microsecond precision)
// and our output must match its output. In short, following sf-pcap.c and
// sf-pcapng.c:
//
//   - Classic pcap: both byte orders; the microsecond, nanosecond and
//     Kuznetzov (0xa1b2cd34, 24-byte record header) magics; versions 2.0 to
//     2.4 and 543.0, with caplen and len swapped as pcap_check_header says.
//     The timestamp is libpcap's struct timeval: the 32-bit fields are
//     sign-extended in a little-endian file and zero-extended in a
//     big-endian one (libpcap's SWAPLONG, on the little-endian hosts NFStream
//     runs on); nanoseconds are divided by 1000. The header snaplen is
//     adjusted by pcap_adjust_snapshot; a caplen above max_snaplen_for_dlt
//     is an error, one above the snapshot length is cut to it and the rest
//     of the record skipped. The upper 6 bits of the link type (FCS length)
//     are masked off; the FCS stays in the data.
//   - pcapng: blocks up to the first Interface Description Block are read
//     when the file is opened. Enhanced, Simple and (obsolete) Packet Blocks
//     are delivered; other block types skipped. Timestamps are converted per
//     interface with if_tsresol (powers of 10 and of 2) and if_tsoffset, in
//     libpcap's uint64 arithmetic. Every interface of the file must have the
//     first one's link type and snapshot length; a new section starts a new
//     set of interfaces but must keep the file's byte order; a caplen above
//     the snapshot length is an error, as is a packet on an unknown interface.
//
// Records libpcap rejects end the capture with a *FormatError that names the
// file and the byte offset where the bad header, record or block starts
// (wrapping ErrTruncated when the input ends inside it). Every record before
// it was delivered. Errors are sticky: Next keeps returning the same one.
//
// Ownership: the Data slice of a Packet points into a buffer owned by the
// Source and stays valid only until the next call to Next. Files are read
// in blocks of 256 KiB and records decoded in place, Data being a slice of
// the block (a record that does not fit, or one cut to the snapshot
// length, is copied into a second buffer, which grows only as record bytes
// actually arrive). So reading allocates nothing per packet, copies
// nothing but the kernel's read, and a corrupt length cannot claim much
// more memory than the input holds.
package capture
