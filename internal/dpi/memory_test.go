//go:build cgo && ndpi_count

package dpi

import (
	"testing"
)

// The C memory tests read the process-wide count kept by the counting
// allocator installed for nDPI, so they must not run in parallel with
// other tests that use nDPI (no test in this package calls t.Parallel).

func TestFlowMemoryReturned(t *testing.T) {
	// Flows that went through DPI carry C strings (TLS server names, HTTP
	// URL, user agent and content type...); FreeFlow returns all of it.
	e := newEngine(t)
	flowsets := [][]ipPacket{
		oneFlow(t, tlsSYN, tlsSYNACK, tlsACK, tlsClientHello, tlsServerHello),
		oneFlow(t, httpSYN, httpSYNACK, httpACK, httpGET, httpServerACK, httpOK, httpACK2),
		oneFlow(t, sshSYN, sshSYNACK, sshACK, sshClientBanner, sshServerBanner, sshClientKexinit, sshServerKexinit),
		oneFlow(t, dnsQuery, dnsResponse),
	}
	dissect(e, flowsets[0], 1, 20) // let nDPI set up anything it does lazily
	before := AllocatedBytes()
	const n = 20000
	for i := range n {
		pkts := flowsets[i%len(flowsets)]
		f := e.NewFlow()
		for _, p := range pkts {
			e.Process(f, p.ip, p.ms)
		}
		e.GiveUp(f)
		e.Collect(f, Protocol{})
		e.FreeFlow(&f)
	}
	if after := AllocatedBytes(); after != before {
		t.Errorf("C memory held by nDPI went from %d to %d bytes after %d flows were created, dissected and freed", before, after, n)
	}

	// While flows are alive their memory is counted, so the count is live.
	f := e.NewFlow()
	if AllocatedBytes() <= before {
		t.Errorf("a live flow is not counted (%d bytes, %d before)", AllocatedBytes(), before)
	}
	e.FreeFlow(&f)
}

func TestCaptureMemoryBounded(t *testing.T) {
	// Run a capture's worth of flows through one Engine again and again,
	// freeing every flow at the end of each run: after the first run
	// (nDPI fills its per-module caches lazily) the C memory must not grow.
	// The budget is NFStream's largest, 255 packets, to dissect the most.
	pkts, nflows := packetMix(t)
	e := newEngine(t)
	const runs = 8
	held := make([]int64, runs)
	for r := range runs {
		dissect(e, pkts, nflows, 255)
		held[r] = AllocatedBytes()
	}
	t.Logf("%d packets, %d flows per run; C memory after each run: %v bytes", len(pkts), nflows, held)
	for r := 2; r < runs; r++ {
		if held[r] > held[1] {
			t.Errorf("run %d ends with %d bytes held, more than the %d after run 2", r+1, held[r], held[1])
		}
	}
}

func TestEngineMemoryReturned(t *testing.T) {
	before := AllocatedBytes()
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	module := AllocatedBytes() - before
	pkts, n := readCapture(t, corpusCapture(t, "facebook.pcap"))
	dissect(e, pkts, n, 20)
	e.Close()
	left := AllocatedBytes() - before
	t.Logf("a detection module holds %d bytes of C memory; %d bytes are left after Close", module, left)
	if module < 1<<20 {
		t.Errorf("module of %d bytes: is the counting allocator installed?", module)
	}
	if left != 0 {
		t.Errorf("%d bytes left after Close", left)
	}
}
