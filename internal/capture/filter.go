package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"golang.org/x/net/bpf"
)

// DLT returns the DLT_ value libpcap uses for the link type on Linux: the
// number pcap_open_dead and pcap_compile expect. It differs from the
// LINKTYPE_ value for a few old types only (LINKTYPE_RAW is DLT_RAW, 12).
func (l LinkType) DLT() uint32 { return linktypeToDLT(uint32(l)) }

// FileCompileFunc compiles a filter expression into classic BPF as libpcap
// compiles it for a capture file whose records have the given link type and
// snapshot length; swapped says the file's byte order is not the host's
// (it changes the program for DLT_NULL). internal/capture/bpf.CompileFile
// is one.
type FileCompileFunc func(expr string, link LinkType, snaplen int, swapped bool) ([]bpf.RawInstruction, error)

// memWords is BPF_MEMWORDS: the number of scratch memory cells.
const memWords = 16

// Opcode fields of classic BPF (the BPF_ macros of pcap/bpf.h).
const (
	clsLD   = 0x00
	clsLDX  = 0x01
	clsST   = 0x02
	clsSTX  = 0x03
	clsALU  = 0x04
	clsJMP  = 0x05
	clsRET  = 0x06
	clsMISC = 0x07

	sizeW = 0x00
	sizeH = 0x08
	sizeB = 0x10

	modeIMM = 0x00
	modeABS = 0x20
	modeIND = 0x40
	modeMEM = 0x60
	modeLEN = 0x80
	modeMSH = 0xa0

	aluADD = 0x00
	aluSUB = 0x10
	aluMUL = 0x20
	aluDIV = 0x30
	aluOR  = 0x40
	aluAND = 0x50
	aluLSH = 0x60
	aluRSH = 0x70
	aluNEG = 0x80
	aluMOD = 0x90
	aluXOR = 0xa0

	jmpJA   = 0x00
	jmpJEQ  = 0x10
	jmpJGT  = 0x20
	jmpJGE  = 0x30
	jmpJSET = 0x40

	srcK = 0x00
	srcX = 0x08

	retK = 0x00
	retA = 0x10

	miscTAX = 0x00
	miscTXA = 0x80
)

// Filter runs a classic BPF program over captured packets in Go, with the
// semantics of libpcap's bpf_filter (the matcher behind pcap_offline_filter):
// loads beyond the captured bytes and division by zero reject the packet,
// and "len" is the packet's length on the wire, not the captured length.
// It is how a filter applies to capture files; live capture hands the same
// program to the kernel. A Filter is safe for concurrent use: Match keeps
// its registers on the stack and allocates nothing.
type Filter struct {
	insns []bpf.RawInstruction
}

// ErrBadProgram is wrapped by NewFilter's error for a program the matcher
// refuses (as libpcap's bpf_validate would).
var ErrBadProgram = errors.New("invalid BPF program")

// NewFilter checks a program and returns a Filter that runs it. An empty
// program matches every packet, as it does in libpcap. A program is
// refused when a jump leaves it, it does not end with a return, it uses an
// unknown opcode, a scratch cell beyond 15, or divides by a constant zero.
func NewFilter(insns []bpf.RawInstruction) (*Filter, error) {
	if err := validate(insns); err != nil {
		return nil, err
	}
	return &Filter{insns: append([]bpf.RawInstruction(nil), insns...)}, nil
}

func validate(insns []bpf.RawInstruction) error {
	if len(insns) == 0 {
		return nil
	}
	bad := func(i int, what string) error {
		return fmt.Errorf("%w: instruction %d (opcode %#x): %s", ErrBadProgram, i, insns[i].Op, what)
	}
	for i, in := range insns {
		rest := uint64(len(insns) - i - 1) // instructions after this one
		switch op := in.Op; op {
		case clsLD | sizeW | modeABS, clsLD | sizeH | modeABS, clsLD | sizeB | modeABS,
			clsLD | sizeW | modeIND, clsLD | sizeH | modeIND, clsLD | sizeB | modeIND,
			clsLD | sizeW | modeLEN, clsLDX | sizeW | modeLEN,
			clsLD | modeIMM, clsLDX | modeIMM, clsLDX | sizeB | modeMSH,
			clsRET | retK, clsRET | retA, clsMISC | miscTAX, clsMISC | miscTXA,
			clsALU | aluNEG:
		case clsLD | modeMEM, clsLDX | modeMEM, clsST, clsSTX:
			if in.K >= memWords {
				return bad(i, "scratch cell out of range")
			}
		case clsJMP | jmpJA:
			if uint64(in.K) >= rest {
				return bad(i, "jump out of the program")
			}
		case clsJMP | jmpJEQ | srcK, clsJMP | jmpJGT | srcK, clsJMP | jmpJGE | srcK, clsJMP | jmpJSET | srcK,
			clsJMP | jmpJEQ | srcX, clsJMP | jmpJGT | srcX, clsJMP | jmpJGE | srcX, clsJMP | jmpJSET | srcX:
			if uint64(in.Jt) >= rest || uint64(in.Jf) >= rest {
				return bad(i, "jump out of the program")
			}
		default:
			if op&0x07 != clsALU || op > 0xff {
				return bad(i, "unknown opcode")
			}
			switch op & 0xf0 {
			case aluADD, aluSUB, aluMUL, aluOR, aluAND, aluLSH, aluRSH, aluXOR:
			case aluDIV, aluMOD:
				if op&srcX == srcK && in.K == 0 {
					return bad(i, "division by zero")
				}
			default:
				return bad(i, "unknown opcode")
			}
		}
	}
	if insns[len(insns)-1].Op&0x07 != clsRET {
		return bad(len(insns)-1, "the program does not end with a return")
	}
	return nil
}

// Match reports whether the program accepts a packet whose captured bytes
// are data and whose length on the wire was wireLen (Packet.Len). Like
// libpcap it accepts when the program returns a non-zero value.
func (f *Filter) Match(data []byte, wireLen uint32) bool {
	return f == nil || len(f.insns) == 0 || run(f.insns, data, wireLen) != 0
}

// run interprets a validated program; the return value is the program's.
func run(insns []bpf.RawInstruction, p []byte, wireLen uint32) uint32 {
	var a, x uint32
	var mem [memWords]uint32
	n := uint32(len(p))
	for pc := 0; pc < len(insns); pc++ {
		in := &insns[pc]
		k := in.K
		switch in.Op {
		case clsRET | retK:
			return k
		case clsRET | retA:
			return a

		case clsLD | sizeW | modeABS:
			if k > n || n-k < 4 {
				return 0
			}
			a = be32(p[k:])
		case clsLD | sizeH | modeABS:
			if k > n || n-k < 2 {
				return 0
			}
			a = uint32(p[k])<<8 | uint32(p[k+1])
		case clsLD | sizeB | modeABS:
			if k >= n {
				return 0
			}
			a = uint32(p[k])
		case clsLD | sizeW | modeIND:
			if k > n || x > n-k || n-k-x < 4 {
				return 0
			}
			a = be32(p[k+x:])
		case clsLD | sizeH | modeIND:
			if k > n || x > n-k || n-k-x < 2 {
				return 0
			}
			a = uint32(p[k+x])<<8 | uint32(p[k+x+1])
		case clsLD | sizeB | modeIND:
			if k >= n || x >= n-k {
				return 0
			}
			a = uint32(p[k+x])
		case clsLD | sizeW | modeLEN:
			a = wireLen
		case clsLDX | sizeW | modeLEN:
			x = wireLen
		case clsLD | modeIMM:
			a = k
		case clsLDX | modeIMM:
			x = k
		case clsLD | modeMEM:
			a = mem[k]
		case clsLDX | modeMEM:
			x = mem[k]
		case clsLDX | sizeB | modeMSH:
			if k >= n {
				return 0
			}
			x = uint32(p[k]&0x0f) << 2
		case clsST:
			mem[k] = a
		case clsSTX:
			mem[k] = x

		case clsJMP | jmpJA:
			pc += int(k)
		case clsJMP | jmpJEQ | srcK:
			pc += branch(a == k, in)
		case clsJMP | jmpJGT | srcK:
			pc += branch(a > k, in)
		case clsJMP | jmpJGE | srcK:
			pc += branch(a >= k, in)
		case clsJMP | jmpJSET | srcK:
			pc += branch(a&k != 0, in)
		case clsJMP | jmpJEQ | srcX:
			pc += branch(a == x, in)
		case clsJMP | jmpJGT | srcX:
			pc += branch(a > x, in)
		case clsJMP | jmpJGE | srcX:
			pc += branch(a >= x, in)
		case clsJMP | jmpJSET | srcX:
			pc += branch(a&x != 0, in)

		case clsALU | aluNEG:
			a = -a
		case clsMISC | miscTAX:
			x = a
		case clsMISC | miscTXA:
			a = x

		default:
			// The other ALU operations; validate let nothing else through.
			v := k
			if in.Op&srcX != 0 {
				v = x
			}
			var ok bool
			if a, ok = alu(uint32(in.Op&0xf0), a, v); !ok {
				return 0
			}
		}
	}
	return 0
}

// alu applies an arithmetic operation; it reports false for a division by
// zero, which rejects the packet.
func alu(op, a, v uint32) (uint32, bool) {
	switch op {
	case aluADD:
		return a + v, true
	case aluSUB:
		return a - v, true
	case aluMUL:
		return a * v, true
	case aluDIV:
		if v == 0 {
			return 0, false
		}
		return a / v, true
	case aluMOD:
		if v == 0 {
			return 0, false
		}
		return a % v, true
	case aluAND:
		return a & v, true
	case aluOR:
		return a | v, true
	case aluXOR:
		return a ^ v, true
	case aluLSH:
		// Go defines shifts of 32 and more as 0, which is also what
		// libpcap 1.10 computes for them.
		return a << v, true
	case aluRSH:
		return a >> v, true
	}
	return 0, false
}

func branch(cond bool, in *bpf.RawInstruction) int {
	if cond {
		return int(in.Jt)
	}
	return int(in.Jf)
}

func be32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// filtered is a Source that passes on only the records its filter accepts.
type filtered struct {
	src     Source
	name    string
	expr    string
	compile FileCompileFunc
	swapped bool
	link    LinkType
	f       *Filter // for link; nil before the first record
	err     error   // sticky compile error
}

// offlineSnaplen is the snapshot length filters for files are compiled
// with. pcap_offline_filter only asks whether the program returned
// non-zero, so the value (the "ret #snaplen" of accepting paths) does not
// change which records pass.
const offlineSnaplen = maximumSnaplen

// Filtered returns a Source delivering the records of src that the filter
// expression accepts, as libpcap's pcap_setfilter on a capture file does.
// The expression is compiled by compile for the link type of the records
// and the byte order of the file. For a source from Open or NewReader the
// header gives the link type, so an expression that does not compile for
// it fails here, before any record is read, as pcap_setfilter would right
// after pcap_open_offline; src is then left open. Other sources (and
// records of another link type) compile when their first record arrives,
// and a failure ends the source. Errors name the capture (name) and quote
// the expression. An empty expression returns src itself. Closing the
// returned Source closes src.
func Filtered(src Source, name, expr string, compile FileCompileFunc) (Source, error) {
	if expr == "" {
		return src, nil
	}
	s := &filtered{src: src, name: name, expr: expr, compile: compile}
	switch r := src.(type) {
	case *pcapReader:
		s.swapped = r.big != hostBigEndian()
		if err := s.setLink(r.link); err != nil {
			return nil, err
		}
	case *pcapngReader:
		s.swapped = r.big != hostBigEndian()
		if len(r.ifaces) > 0 {
			if err := s.setLink(r.ifaces[0].link); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func hostBigEndian() bool { return binary.NativeEndian.Uint16([]byte{0, 1}) == 1 }

// setLink compiles the filter for a link type.
func (s *filtered) setLink(link LinkType) error {
	insns, err := s.compile(s.expr, link, offlineSnaplen, s.swapped)
	if err == nil {
		if s.f, err = NewFilter(insns); err != nil {
			err = fmt.Errorf("filter %q: %w", s.expr, err)
		}
	}
	if err != nil {
		return fmt.Errorf("%q: %w", s.name, err)
	}
	s.link = link
	return nil
}

func (s *filtered) Next(p *Packet) error {
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

// Interrupt passes on to the filtered source. See Interrupter.
func (s *filtered) Interrupt() {
	if i, ok := s.src.(Interrupter); ok {
		i.Interrupt()
	}
}

// CountBytes passes on to the filtered source. See ByteCounter.
func (s *filtered) CountBytes(total *atomic.Uint64) {
	if c, ok := s.src.(ByteCounter); ok {
		c.CountBytes(total)
	}
}
