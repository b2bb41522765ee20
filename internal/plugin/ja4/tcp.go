package ja4

// TCP reassembly bounds: the record stream kept (the ClientHello plus its
// record headers), and the segments kept while the first one is missing.
const (
	maxTCPStream   = MaxHello + 256
	maxTCPSegments = 32
	maxNoSYNWait   = 4
)

// TCPAssembler reassembles the ClientHello of one TLS-over-TCP flow from the
// client-to-server segments. Its zero value is ready; it is not safe for
// concurrent use. Feed it every client-to-server segment carrying payload,
// with its sequence number, until it returns Done or Failed; segments may
// come out of order or twice. If the plugin sees the client's SYN it should
// call SYN first: the stream then starts at its sequence number plus one;
// otherwise it starts at the lowest sequence number fed so far, so that a
// first segment arriving late still takes its place.
type TCPAssembler struct {
	status  Status
	hello   []byte
	haveISN bool
	isn     uint32 // sequence number of the stream's first byte when haveISN
	segs    []segment
	bytes   int
}

type segment struct {
	seq  uint32
	data []byte
}

// SYN gives the sequence number of the client's SYN.
func (a *TCPAssembler) SYN(seq uint32) {
	if a.status == NeedMore && len(a.segs) == 0 {
		a.haveISN, a.isn = true, seq+1
	}
}

// Status returns the last status Feed returned.
func (a *TCPAssembler) Status() Status { return a.status }

// Hello returns the ClientHello handshake message once Feed returned Done.
func (a *TCPAssembler) Hello() []byte { return a.hello }

// Feed adds one client-to-server segment's payload (it is copied).
func (a *TCPAssembler) Feed(seq uint32, payload []byte) Status {
	if a.status != NeedMore || len(payload) == 0 {
		return a.status
	}
	if len(a.segs) == 0 && (!a.haveISN || seq == a.isn) {
		// Fast path: the first segment at the stream's start holds the
		// whole hello (nearly always), or shows a stream that is not TLS.
		switch st, hello := tlsRecords(payload); {
		case st == Done:
			a.status, a.hello = Done, append([]byte(nil), hello...)
			return Done
		case st == Failed && a.haveISN:
			return a.fail()
		}
	}
	if len(a.segs) >= maxTCPSegments || a.bytes+len(payload) > 2*maxTCPStream {
		return a.fail()
	}
	if len(payload) > maxTCPStream {
		payload = payload[:maxTCPStream]
	}
	a.segs = append(a.segs, segment{seq, append([]byte(nil), payload...)})
	a.bytes += len(payload)

	base := a.isn
	if !a.haveISN {
		// The lowest sequence number, compared with wrap-around from the
		// first segment's.
		base = a.segs[0].seq
		for _, s := range a.segs[1:] {
			if int32(s.seq-base) < 0 {
				base = s.seq
			}
		}
	}
	var st stream
	st.limit = maxTCPStream
	for _, s := range a.segs {
		off := int32(s.seq - base)
		if off < 0 { // before the SYN's stream start: keep its tail
			if int(-off) >= len(s.data) {
				continue
			}
			s.data, off = s.data[-off:], 0
		}
		st.add(int(off), s.data)
	}
	status, hello := tlsRecords(st.prefix())
	switch {
	case status == Done:
		a.status, a.hello, a.segs = Done, hello, nil
	case status == Failed && (a.haveISN || len(a.segs) >= maxNoSYNWait):
		// Failed is final once the stream's start is known (after a SYN).
		// Without a SYN an earlier segment may still come, so a few more
		// segments are awaited: a flow that is not TLS is dropped after
		// maxNoSYNWait segments.
		return a.fail()
	}
	return a.status
}

func (a *TCPAssembler) fail() Status {
	a.status, a.segs, a.bytes = Failed, nil, 0
	return Failed
}

// tlsRecords reads TLS handshake records from the start of a TCP stream and
// looks for a whole ClientHello in their concatenated fragments.
func tlsRecords(b []byte) (Status, []byte) {
	var hs []byte
	for len(b) > 0 {
		if b[0] != 0x16 { // handshake record
			return Failed, nil
		}
		if len(b) >= 2 && b[1] != 3 {
			return Failed, nil
		}
		if len(b) < 5 {
			break
		}
		n := int(b[3])<<8 | int(b[4])
		if n == 0 || n > 1<<14+2048 {
			return Failed, nil
		}
		frag := b[5:min(len(b), 5+n)]
		if hs == nil && len(b) >= 5+n {
			// Common case: the whole hello in the first record; no copy.
			if st, hello := helloStatus(frag); st != NeedMore {
				return st, hello
			}
		}
		hs = append(hs, frag...)
		if st, hello := helloStatus(hs); st != NeedMore {
			return st, hello
		}
		if len(b) < 5+n {
			break
		}
		b = b[5+n:]
	}
	return NeedMore, nil
}
