package ja4

// Status is what an assembler reports after each packet.
type Status int

const (
	NeedMore Status = iota // no complete ClientHello yet: feed the next packet
	Done                   // Hello returns the complete ClientHello
	Failed                 // not TLS / not a QUIC Initial, malformed, or over the bounds: stop feeding
)

func (s Status) String() string {
	switch s {
	case NeedMore:
		return "NeedMore"
	case Done:
		return "Done"
	case Failed:
		return "Failed"
	}
	return "Status(?)"
}

// span is a half-open byte range [lo, hi) of a stream.
type span struct{ lo, hi int }

// stream reassembles the first limit bytes of a byte stream from pieces
// given by offset, in any order, overlapping or repeated.
type stream struct {
	data  []byte
	spans []span // sorted, disjoint, not adjacent
	limit int
}

// add writes p at offset off. It reports false when the piece reaches
// beyond the limit (the bytes below the limit are still kept).
func (s *stream) add(off int, p []byte) bool {
	if off < 0 {
		return false
	}
	end := off + len(p)
	ok := end <= s.limit
	if end > s.limit {
		end = s.limit
	}
	if off >= end {
		return ok
	}
	if len(s.data) < end {
		s.data = append(s.data, make([]byte, end-len(s.data))...)
	}
	copy(s.data[off:end], p)
	// Merge [off, end) into the spans.
	out := s.spans[:0:0]
	lo, hi := off, end
	placed := false
	for _, sp := range s.spans {
		switch {
		case sp.hi < lo:
			out = append(out, sp)
		case sp.lo > hi:
			if !placed {
				out = append(out, span{lo, hi})
				placed = true
			}
			out = append(out, sp)
		default:
			lo, hi = min(lo, sp.lo), max(hi, sp.hi)
		}
	}
	if !placed {
		out = append(out, span{lo, hi})
	}
	s.spans = out
	return ok
}

// prefix returns the contiguous bytes from offset 0.
func (s *stream) prefix() []byte {
	if len(s.spans) == 0 || s.spans[0].lo != 0 {
		return nil
	}
	return s.data[:s.spans[0].hi]
}

// helloStatus looks at the start of a handshake byte stream: Done with the
// message when a whole ClientHello is there, Failed when it cannot be one.
func helloStatus(hs []byte) (Status, []byte) {
	if len(hs) >= 1 && hs[0] != handshakeClientHello {
		return Failed, nil
	}
	if len(hs) < 4 {
		return NeedMore, nil
	}
	n := 4 + (int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3]))
	if n > MaxHello {
		return Failed, nil
	}
	if len(hs) < n {
		return NeedMore, nil
	}
	return Done, hs[:n:n]
}
