package filter

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"
)

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

// ErrBadProgram is wrapped by New's error for a program the matcher
// refuses (as libpcap's bpf_validate would).
var ErrBadProgram = errors.New("invalid BPF program")

// New checks a program and returns a Filter that runs it. An empty
// program matches every packet, as it does in libpcap. A program is
// refused when a jump leaves it, it does not end with a return, it uses an
// unknown opcode, a scratch cell beyond 15, or divides by a constant zero.
func New(insns []bpf.RawInstruction) (*Filter, error) {
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
