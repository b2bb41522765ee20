//go:build linux

package capture

import (
	"testing"
	"time"
)

// TestRingGeometry checks the ring chosen for a snapshot length and buffer
// size against the kernel's rules for TPACKET_V3 (packet_set_ring): blocks
// a power-of-two multiple of the page, room in a block for the largest
// frame, frame size a multiple of 16 holding the headers, and frame count
// frames per block times blocks.
func TestRingGeometry(t *testing.T) {
	const page = 4096
	tests := []struct {
		snaplen, kib      int
		wantBlock, wantNr uint32
	}{
		{1536, 2048, 256 << 10, 8}, // the defaults: libpcap's 2 MiB in 8 blocks
		{1536, 1, page, 2},         // at least two blocks
		{1536, 64 << 10, 1 << 20, 64},
		{262144, 2048, 512 << 10, 4}, // a block holds a whole frame
		{262144, 1, 512 << 10, 2},
		{60, 100000, 1 << 20, 97},
	}
	for _, tt := range tests {
		req := ringGeometry(tt.snaplen, tt.kib, page, 100*time.Millisecond)
		if req.Block_size != tt.wantBlock || req.Block_nr != tt.wantNr {
			t.Errorf("snaplen %d, %d KiB: %d blocks of %d, want %d of %d",
				tt.snaplen, tt.kib, req.Block_nr, req.Block_size, tt.wantNr, tt.wantBlock)
		}
		b := req.Block_size
		if b%page != 0 || b&(b-1) != 0 {
			t.Errorf("snaplen %d: block size %d", tt.snaplen, b)
		}
		if req.Frame_size%tpacketAlignment != 0 || int(req.Frame_size) < tpacket3HdrLen+ringReserve+tt.snaplen {
			t.Errorf("snaplen %d: frame size %d", tt.snaplen, req.Frame_size)
		}
		if int(b)-blockDescLen < int(req.Frame_size) {
			t.Errorf("snaplen %d: frame of %d does not fit a block of %d", tt.snaplen, req.Frame_size, b)
		}
		if req.Frame_nr != b/req.Frame_size*req.Block_nr {
			t.Errorf("snaplen %d: %d frames", tt.snaplen, req.Frame_nr)
		}
		if req.Retire_blk_tov != 100 {
			t.Errorf("retire timeout %d ms", req.Retire_blk_tov)
		}
	}
}
