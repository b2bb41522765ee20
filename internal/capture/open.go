package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Magic numbers of the capture formats, as read little-endian from the first
// four bytes of a file.
const (
	magicMicro     = 0xa1b2c3d4 // classic pcap, microseconds
	magicNano      = 0xa1b23c4d // classic pcap, nanoseconds
	magicKuznetzov = 0xa1b2cd34 // Alexey Kuznetzov's modified pcap
	magicSHB       = 0x0A0D0D0A // pcapng Section Header Block; the same in both byte orders
)

// Open opens the capture file name ("-" is standard input) and returns a
// Source for it. The format, classic pcap or pcapng, is decided by the
// file's first bytes, never by its name. The file header (and for pcapng
// everything up to the first Interface Description Block) is read and
// checked here, as pcap_open_offline does, so a file libpcap cannot open
// fails here.
//
// Reads of standard input, a FIFO, a socket or a terminal may wait for
// input; such sources are Interrupters. For standard input this means
// putting it in non-blocking mode while it is read: Close, or
// RestoreStdin on the way out, sets it back.
func Open(name string) (Source, error) {
	if name == "-" {
		f, c := pollableStdin()
		var dl deadliner
		if f != nil {
			dl = f
		}
		src, err := open(orStdin(f), c, dl, name)
		if err != nil && c != nil {
			c.Close()
		}
		return src, err
	}
	f, err := os.Open(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("open %q: %w", name, err)
	}
	// os.Open puts a FIFO, socket or terminal under Go's poller, where a
	// read deadline can end a waiting read; on a regular file setting one
	// fails, harmlessly.
	src, err := open(f, f, f, name)
	if err != nil {
		f.Close()
		return nil, err
	}
	return src, nil
}

// orStdin is f, or os.Stdin when f is nil.
func orStdin(f *os.File) io.Reader {
	if f == nil {
		return os.Stdin
	}
	return f
}

// NewReader returns a Source reading a capture from r, with name used in
// error messages. Like Open it reads and checks the file header first.
// Closing the Source does not close r.
func NewReader(r io.Reader, name string) (Source, error) {
	return open(r, nil, nil, name)
}

func open(r io.Reader, c io.Closer, dl deadliner, name string) (Source, error) {
	in := newInput(r, c, name)
	in.dl = dl
	var m [4]byte
	n, err := in.read(m[:])
	if err != nil {
		return nil, err
	}
	switch {
	case n == 0:
		return nil, &FormatError{Name: name, Offset: 0, Err: ErrEmpty}
	case n < len(m):
		// libpcap: "truncated dump file; tried to read 4 file header
		// bytes"; too short to be either format.
		return nil, in.formatError(0, "%w: only %d bytes", ErrNotCapture, n)
	}
	magic := binary.LittleEndian.Uint32(m[:])
	switch magic {
	case magicMicro, magicNano, magicKuznetzov:
		return openPcap(in, magic, false)
	}
	switch swapped := binary.BigEndian.Uint32(m[:]); swapped {
	case magicMicro, magicNano, magicKuznetzov:
		return openPcap(in, swapped, true)
	}
	if magic == magicSHB {
		return openPcapng(in)
	}
	return nil, &FormatError{Name: name, Offset: 0, Err: ErrNotCapture}
}
