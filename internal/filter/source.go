package filter

import (
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/nfstream-go/nfstream/internal/capture"
)

// fileCompiler compiles an expression for records of a capture file;
// CompileFile is the one Source uses.
type fileCompiler func(expr string, link uint32, snaplen int, swapped bool) ([]bpf.RawInstruction, error)

// offlineSnaplen is the snapshot length filters for files are compiled
// with: libpcap's MAXIMUM_SNAPLEN. pcap_offline_filter only asks whether
// the program returned non-zero, so the value (the "ret #snaplen" of
// accepting paths) does not change which records pass, and a fixed one
// spares the compiler the odd snapshot lengths files may declare.
const offlineSnaplen = 262144

// filtered is a Source that passes on only the records its filter accepts.
type filtered struct {
	src     capture.Source
	name    string
	expr    string
	compile fileCompiler
	swapped bool
	link    capture.LinkType
	f       *Filter // for link; nil before the first record
	err     error   // sticky compile error
}

// Source returns a capture.Source delivering the records of src that the
// filter expression accepts, as libpcap's pcap_setfilter on a capture file
// does. The expression is compiled by CompileFile for the link type of the
// records and the byte order of the file. For a source from capture.Open
// or capture.NewReader (a capture.FileHeader) the header gives the link
// type, so an expression that does not compile for it fails here, before
// any record is read, as pcap_setfilter would right after
// pcap_open_offline; src is then left open. Other sources (and records of
// another link type) compile when their first record arrives, and a
// failure ends the source. Errors name the capture (name) and quote the
// expression. An empty expression returns src itself. Closing the returned
// Source closes src.
func Source(src capture.Source, name, expr string) (capture.Source, error) {
	return newSource(src, name, expr, CompileFile)
}

func newSource(src capture.Source, name, expr string, compile fileCompiler) (capture.Source, error) {
	if expr == "" {
		return src, nil
	}
	s := &filtered{src: src, name: name, expr: expr, compile: compile}
	if h, ok := src.(capture.FileHeader); ok {
		link, swapped, known := h.FilterInfo()
		s.swapped = swapped
		if known {
			if err := s.setLink(link); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// setLink compiles the filter for a link type.
func (s *filtered) setLink(link capture.LinkType) error {
	insns, err := s.compile(s.expr, uint32(link), offlineSnaplen, s.swapped)
	if err == nil {
		if s.f, err = New(insns); err != nil {
			err = fmt.Errorf("filter %q: %w", s.expr, err)
		}
	}
	if err != nil {
		return fmt.Errorf("%q: %w", s.name, err)
	}
	s.link = link
	return nil
}

func (s *filtered) Next(p *capture.Packet) error {
	if s.err != nil {
		return s.err
	}
	for {
		if err := s.src.Next(p); err != nil {
			return err
		}
		if s.f == nil || p.LinkType != s.link {
			if s.err = s.setLink(p.LinkType); s.err != nil {
				return s.err
			}
		}
		if s.f.Match(p.Data, p.Len) {
			return nil
		}
	}
}

func (s *filtered) Close() error { return s.src.Close() }

// Interrupt passes on to the filtered source. See capture.Interrupter.
func (s *filtered) Interrupt() {
	if i, ok := s.src.(capture.Interrupter); ok {
		i.Interrupt()
	}
}

// OnRead passes on to the filtered source. See capture.ReadHook.
func (s *filtered) OnRead(fn func(bytesRead uint64)) {
	if h, ok := s.src.(capture.ReadHook); ok {
		h.OnRead(fn)
	}
}
