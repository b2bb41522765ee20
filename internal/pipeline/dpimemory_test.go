package pipeline

import (
	"context"
	"runtime"
	"testing"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/dpi"
	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// peakSink counts flows and records the most C memory nDPI held when a
// flow was exported (the sink runs on the meter's goroutine, so this is
// the meter's own view, between two packets).
// The C memory peak of a run is the counting allocator's own
// (dpi.PeakBytes): sampling it in the sink, which writes on its own
// goroutine, would catch the meter at a different moment each run.

// peakRun is what one run metered: its flows and the most C memory nDPI
// held during it.
type peakRun struct {
	flows uint64
	peak  int64
}

// runPeak runs cfg and measures its C memory peak.
func runPeak(cfg FileConfig) (peakRun, error) {
	var s countSink
	dpi.ResetPeak()
	_, err := Run(context.Background(), cfg, &s, nil)
	return peakRun{s.n, dpi.PeakBytes()}, err
}

// settled returns the Go heap in use after a full collection and the C
// memory nDPI holds.
func settled() (goHeap uint64, c int64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, dpi.AllocatedBytes()
}

// TestDPIMemoryBounded runs all of the corpus through the pipeline with
// dissection on (NFStream's defaults), again and again in one process,
// and shows that memory stays bounded:
//
//   - Each capture as its own run (a detection module per run, as a
//     meter has): after every pass over the corpus the C memory nDPI holds
//     is back to what it was before the first (every flow state and module
//     freed), the Go heap after a collection does not grow from pass to
//     pass, and the most C memory held during a pass is the same each time.
//   - The whole corpus as one capture, read once and then three times in a
//     row by one run (one detection module sees the same traffic three
//     times, later each time): three times the flows, but the most C
//     memory held does not grow with the repetitions, so what nDPI keeps
//     per module (its LRU caches, the flow states of the flows in the
//     table, each freed when its detection closes) is bounded.
func TestDPIMemoryBounded(t *testing.T) {
	if !dpi.Counting {
		t.Skip("counts nDPI's C memory: build with -tags ndpi_count (make test does)")
	}
	needDPI(t)
	if testing.Short() {
		t.Skip("runs the corpus through nDPI several times")
	}
	dir := corpus.Dir(t)
	caps := corpus.Captures(t, dir)

	// A capture libpcap cannot read to the end stops a run at that file,
	// so the one-capture runs leave those out.
	var readable []string
	heap0, c0 := settled()
	const passes = 3
	var heaps [passes]uint64
	var cs, peaks [passes]int64
	var flows uint64
	for p := range passes {
		flows = 0
		for _, c := range caps {
			s, err := runPeak(l7Defaults([]string{c.Path}, 20))
			if p == 0 && err == nil {
				readable = append(readable, c.Path)
			}
			flows += s.flows
			peaks[p] = max(peaks[p], s.peak)
		}
		heaps[p], cs[p] = settled()
	}
	t.Logf("before: Go heap %d bytes, nDPI C memory %d bytes", heap0, c0)
	for p := range passes {
		t.Logf("pass %d over %d captures (%d flows): Go heap %d bytes after GC, nDPI C memory %d bytes after, at most %d during",
			p+1, len(caps), flows, heaps[p], cs[p], peaks[p])
	}
	for p := range passes {
		if cs[p] != c0 {
			t.Errorf("pass %d ends with %d bytes of C memory held by nDPI, %d before: a flow state or module was not freed", p+1, cs[p], c0)
		}
		if peaks[p] > peaks[0]+cSlack || peaks[p] < peaks[0]-cSlack {
			t.Errorf("pass %d held at most %d bytes of C memory, pass 1 %d: the same runs should hold the same", p+1, peaks[p], peaks[0])
		}
	}
	// The Go heap may move a little (the runtime's own bookkeeping), but a
	// pass that kept something would add at least its records.
	const slack = 256 << 10
	for p := 1; p < passes; p++ {
		if heaps[p] > heaps[0]+slack {
			t.Errorf("Go heap after pass %d is %d bytes, %d after pass 1: it grows", p+1, heaps[p], heaps[0])
		}
	}

	// One detection module for the whole corpus, once and three times.
	once := oneModule(t, readable, 1)
	thrice := oneModule(t, readable, 3)
	heap, c := settled()
	t.Logf("the %d readable captures as one capture: %d flows, at most %d bytes of C memory; three times in one run: %d flows, at most %d bytes; after: Go heap %d bytes, C memory %d bytes",
		len(readable), once.flows, once.peak, thrice.flows, thrice.peak, heap, c)
	if thrice.flows != 3*once.flows {
		t.Errorf("three times the traffic gave %d flows, once %d", thrice.flows, once.flows)
	}
	if c != c0 {
		t.Errorf("%d bytes of C memory held after the one-capture runs, %d before", c, c0)
	}
	if thrice.peak > once.peak+cSlack {
		t.Errorf("reading the corpus three times in one run held at most %d bytes of C memory, once %d: nDPI's memory grows with the traffic", thrice.peak, once.peak)
	}
}

// cSlack is how far two runs of the same traffic may differ in the C
// memory the counting allocator sees: it counts malloc_usable_size, and
// glibc may hand out a slightly larger block depending on its free lists.
const cSlack = 64 << 10

// shifted moves the packet times of a source forward.
type shifted struct {
	capture.Source
	sec int64
}

func (s shifted) Next(p *capture.Packet) error {
	err := s.Source.Next(p)
	p.Sec += s.sec
	return err
}

// oneModule runs sources, repeated times in a row, as one capture (so
// through one meter and one detection module). Each repetition's packet
// times are moved by 2^44 s, past every packet of the previous one (a few
// corpus files carry times near 2^42 s), so every repetition is the same
// traffic, later: at its first packet the previous repetition's flows are
// idle and expire, and it makes exactly the flows the first one made.
func oneModule(t *testing.T, sources []string, times int) peakRun {
	t.Helper()
	var all []string
	for range times {
		all = append(all, sources...)
	}
	opened := 0
	cfg := l7Defaults(all, 20)
	cfg.Open = func(name string) (capture.Source, error) {
		src, err := capture.Open(name)
		if err != nil {
			return nil, err
		}
		rep := opened / len(sources)
		opened++
		return shifted{src, int64(rep) << 44}, nil
	}
	s, err := runPeak(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
