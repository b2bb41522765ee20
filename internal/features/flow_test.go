package features

import (
	"math"
	"testing"

	"github.com/nfstream-go/nfstream/internal/decode"
)

// TestFlagCountersCarry checks that the 32-bit flag counters of the packet
// path carry into their upper halves, so exported counts are exact 64-bit
// values as in NFStream.
func TestFlagCountersCarry(t *testing.T) {
	c := Config{Stats: true}
	p := decode.Packet{IPVersion: 4, Protocol: 6, SrcPort: 1, DstPort: 2, Flags: decode.FlagACK | decode.FlagSYN, RawSize: 60}
	var f Flow
	c.Init(&f, nil, &p, 0)
	f.dir[0].flags[FlagIndexACK] = math.MaxUint32 // as after 2^32-1 packets
	f.dir[0].flags[FlagIndexSYN] = math.MaxUint32
	f.flagsHigh[0][FlagIndexSYN] = 7
	c.Update(&f, nil, &p, 1) // ACK and SYN wrap
	p.Flags = decode.FlagACK
	c.Update(&f, nil, &p, 2)
	var r Record
	c.Export(&f, nil, &r)
	if got, want := r.FlagPackets(1, FlagIndexACK), uint64(1)<<32+1; got != want {
		t.Errorf("src2dst ACK packets %d, want %d", got, want)
	}
	if got, want := r.FlagPackets(1, FlagIndexSYN), uint64(8)<<32; got != want {
		t.Errorf("src2dst SYN packets %d, want %d", got, want)
	}
	if got := r.FlagPackets(2, FlagIndexACK); got != 0 {
		t.Errorf("dst2src ACK packets %d, want 0", got)
	}
}

// TestExportSPLTPadding checks that SPLT entries past the flow's packets are
// exported as -1, however the entry storage was left by an earlier flow.
func TestExportSPLTPadding(t *testing.T) {
	c := Config{SPLT: 4}
	splt := []SPLTEntry{{9, 9, 9}, {9, 9, 9}, {9, 9, 9}, {9, 9, 9}}
	fwd := decode.Packet{IPVersion: 4, Protocol: 17, SrcPort: 1, DstPort: 2, RawSize: 60}
	back := fwd
	back.SrcPort, back.DstPort, back.RawSize = 2, 1, 70
	var f Flow
	c.Init(&f, splt, &fwd, 100)
	c.Update(&f, splt, &back, 130)
	r := Record{SPLTDirection: make([]int8, 4), SPLTPS: make([]int32, 4), SPLTPIAT: make([]int64, 4)}
	c.Export(&f, splt, &r)
	wantDir, wantPS, wantPIAT := []int8{0, 1, -1, -1}, []int32{60, 70, -1, -1}, []int64{0, 30, -1, -1}
	for i := range 4 {
		if r.SPLTDirection[i] != wantDir[i] || r.SPLTPS[i] != wantPS[i] || r.SPLTPIAT[i] != wantPIAT[i] {
			t.Fatalf("SPLT %v %v %v, want %v %v %v", r.SPLTDirection, r.SPLTPS, r.SPLTPIAT, wantDir, wantPS, wantPIAT)
		}
	}
}
