// Package capture is the first stage of the pipeline: it delivers link-layer
// records from capture files (pcap and pcapng, detected by content) and, later,
// from live interfaces.
//
// Records are interpreted as libpcap 1.10 interprets them, because NFStream
// reads captures through libpcap and our output must match its output: the
// timestamp arrives as libpcap's struct timeval (seconds and microseconds,
// both signed, nanosecond files scaled down), caplen is capped by the file's
// snapshot length the way libpcap caps it, and records libpcap rejects end
// the capture with an error that names the file and the byte offset.
//
// Ownership: the Data slice of a Packet points into a buffer owned by the
// Source and stays valid only until the next call to Next.
package capture
