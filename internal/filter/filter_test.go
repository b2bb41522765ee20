package filter

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

// assemble turns instructions into a program, failing the test on error.
func assemble(t testing.TB, insns ...bpf.Instruction) []bpf.RawInstruction {
	t.Helper()
	raw, err := bpf.Assemble(insns)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func mustFilter(t testing.TB, raw []bpf.RawInstruction) *Filter {
	t.Helper()
	f, err := New(raw)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// accept and reject end a test program: jump targets are "ok" (skip 0)
// and "no" (skip 1).
var (
	accept = bpf.RetConstant{Val: 1}
	reject = bpf.RetConstant{Val: 0}
)

func TestFilterSemantics(t *testing.T) {
	// A 16-byte packet 00 01 02 ... 0f.
	data := make([]byte, 16)
	for i := range data {
		data[i] = byte(i)
	}
	tests := []struct {
		name    string
		prog    []bpf.Instruction
		wireLen uint32
		want    bool
	}{
		{"word load", []bpf.Instruction{
			bpf.LoadAbsolute{Off: 12, Size: 4},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0c0d0e0f, SkipFalse: 1}, accept, reject}, 16, true},
		{"half load", []bpf.Instruction{
			bpf.LoadAbsolute{Off: 14, Size: 2},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0e0f, SkipFalse: 1}, accept, reject}, 16, true},
		{"word load past the end", []bpf.Instruction{bpf.LoadAbsolute{Off: 13, Size: 4}, accept}, 16, false},
		{"byte load at the end", []bpf.Instruction{bpf.LoadAbsolute{Off: 16, Size: 1}, accept}, 16, false},
		{"huge offset", []bpf.Instruction{bpf.LoadAbsolute{Off: 0xfffffffe, Size: 4}, accept}, 16, false},
		{"indirect", []bpf.Instruction{
			bpf.LoadConstant{Dst: bpf.RegX, Val: 10},
			bpf.LoadIndirect{Off: 2, Size: 2},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0c0d, SkipFalse: 1}, accept, reject}, 16, true},
		{"indirect past the end", []bpf.Instruction{
			bpf.LoadConstant{Dst: bpf.RegX, Val: 0xfffffff0},
			bpf.LoadIndirect{Off: 0x20, Size: 1}, accept}, 16, false},
		{"ip header length", []bpf.Instruction{
			bpf.LoadMemShift{Off: 5}, // (data[5] & 0xf) << 2 = 20
			bpf.TXA{},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 20, SkipFalse: 1}, accept, reject}, 16, true},
		{"len is the wire length", []bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtLen},
			bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: 1000, SkipFalse: 1}, accept, reject}, 1500, true},
		{"len is not the captured length", []bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtLen},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 16, SkipFalse: 1}, accept, reject}, 1500, false},
		{"scratch memory", []bpf.Instruction{
			bpf.LoadConstant{Dst: bpf.RegA, Val: 7},
			bpf.StoreScratch{Src: bpf.RegA, N: 15},
			bpf.LoadConstant{Dst: bpf.RegA, Val: 0},
			bpf.LoadScratch{Dst: bpf.RegX, N: 15},
			bpf.TXA{},
			bpf.RetA{}}, 16, true},
		{"division by zero rejects", []bpf.Instruction{
			bpf.LoadConstant{Dst: bpf.RegA, Val: 7},
			bpf.LoadConstant{Dst: bpf.RegX, Val: 0},
			bpf.ALUOpX{Op: bpf.ALUOpDiv},
			accept}, 16, false},
		{"modulo by zero rejects", []bpf.Instruction{
			bpf.LoadConstant{Dst: bpf.RegA, Val: 7},
			bpf.ALUOpX{Op: bpf.ALUOpMod},
			accept}, 16, false},
		{"arithmetic", []bpf.Instruction{
			bpf.LoadConstant{Dst: bpf.RegA, Val: 6},
			bpf.ALUOpConstant{Op: bpf.ALUOpMul, Val: 7},        // 42
			bpf.ALUOpConstant{Op: bpf.ALUOpSub, Val: 2},        // 40
			bpf.ALUOpConstant{Op: bpf.ALUOpDiv, Val: 3},        // 13
			bpf.ALUOpConstant{Op: bpf.ALUOpMod, Val: 8},        // 5
			bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 4},  // 80
			bpf.ALUOpConstant{Op: bpf.ALUOpOr, Val: 1},         // 81
			bpf.ALUOpConstant{Op: bpf.ALUOpXor, Val: 0x10},     // 65
			bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x7f},     // 65
			bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 1}, // 32
			bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 10},       // 42
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 42, SkipFalse: 1}, accept, reject}, 16, true},
		{"shift by 32 is 0", []bpf.Instruction{
			bpf.LoadConstant{Dst: bpf.RegA, Val: 1},
			bpf.LoadConstant{Dst: bpf.RegX, Val: 32},
			bpf.ALUOpX{Op: bpf.ALUOpShiftLeft},
			bpf.RetA{}}, 16, false},
		{"negate", []bpf.Instruction{
			bpf.LoadConstant{Dst: bpf.RegA, Val: 1},
			bpf.NegateA{},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0xffffffff, SkipFalse: 1}, accept, reject}, 16, true},
		{"jset and jgt", []bpf.Instruction{
			bpf.LoadAbsolute{Off: 3, Size: 1},
			bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 2, SkipFalse: 3},
			bpf.LoadConstant{Dst: bpf.RegX, Val: 2},
			bpf.JumpIfX{Cond: bpf.JumpGreaterThan, SkipFalse: 1}, accept, reject}, 16, true},
		{"jump always", []bpf.Instruction{bpf.Jump{Skip: 1}, reject, accept}, 16, true},
		{"return A of zero rejects", []bpf.Instruction{bpf.LoadAbsolute{Off: 0, Size: 1}, bpf.RetA{}}, 16, false},
	}
	for _, tt := range tests {
		f := mustFilter(t, assemble(t, tt.prog...))
		if got := f.Match(data, tt.wireLen); got != tt.want {
			t.Errorf("%s: match %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestFilterEmptyMatchesAll(t *testing.T) {
	f := mustFilter(t, nil)
	if !f.Match(nil, 0) || !f.Match([]byte{1}, 1) {
		t.Error("an empty program must match everything")
	}
	var nf *Filter
	if !nf.Match([]byte{1}, 1) {
		t.Error("a nil filter must match everything")
	}
}

func TestFilterRejectsBadPrograms(t *testing.T) {
	tests := []struct {
		name string
		prog []bpf.RawInstruction
		want string
	}{
		{"jump out", []bpf.RawInstruction{{Op: clsJMP | jmpJA, K: 1}, {Op: clsRET | retK}}, "jump out"},
		{"conditional jump out", []bpf.RawInstruction{{Op: clsJMP | jmpJEQ, Jt: 0, Jf: 2}, {Op: clsRET | retK}, {Op: clsRET | retK}}, "jump out"},
		{"no return", []bpf.RawInstruction{{Op: clsLD | modeIMM}}, "does not end with a return"},
		{"scratch 16", []bpf.RawInstruction{{Op: clsST, K: 16}, {Op: clsRET | retK}}, "scratch"},
		{"load scratch 16", []bpf.RawInstruction{{Op: clsLD | modeMEM, K: 16}, {Op: clsRET | retK}}, "scratch"},
		{"division by constant zero", []bpf.RawInstruction{{Op: clsALU | aluDIV}, {Op: clsRET | retK}}, "division by zero"},
		{"unknown opcode", []bpf.RawInstruction{{Op: 0xff}, {Op: clsRET | retK}}, "unknown opcode"},
		{"return X", []bpf.RawInstruction{{Op: clsRET | 0x08}}, "unknown opcode"},
		{"ldx abs", []bpf.RawInstruction{{Op: clsLDX | sizeW | modeABS}, {Op: clsRET | retK}}, "unknown opcode"},
	}
	for _, tt := range tests {
		_, err := New(tt.prog)
		if !errors.Is(err, ErrBadProgram) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want ErrBadProgram and %q", tt.name, err, tt.want)
		}
	}
}

// TestFilterNoAllocs shows that matching allocates nothing per packet.
func TestFilterNoAllocs(t *testing.T) {
	f := mustFilter(t, assemble(t,
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: 3},
		bpf.LoadMemShift{Off: 14},
		bpf.LoadIndirect{Off: 16, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 443, SkipTrue: 1},
		reject, bpf.RetConstant{Val: 1536}))
	data := make([]byte, 64)
	data[12], data[14] = 0x08, 0x45
	data[36], data[37] = 0x01, 0xbb
	if !f.Match(data, 64) {
		t.Fatal("the test packet does not match")
	}
	if n := testing.AllocsPerRun(1000, func() { f.Match(data, 64) }); n != 0 {
		t.Errorf("Match allocates %v times per packet", n)
	}
}

// TestDLT checks the LINKTYPE_ values whose DLT_ differs on Linux, and a
// few that map to themselves.
func TestDLT(t *testing.T) {
	for link, dlt := range map[uint32]uint32{
		0: 0, 1: 1, 12: 12, 100: 11, 101: 12, 102: 15, 103: 16, 104: 104, 106: 19, 113: 113, 276: 276,
	} {
		if got := DLT(link); got != dlt {
			t.Errorf("DLT(%d) = %d, want %d", link, got, dlt)
		}
	}
}
