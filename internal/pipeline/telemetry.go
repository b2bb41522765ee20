package pipeline

import (
	"sync"
	"sync/atomic"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
)

// Telemetry counts what a run does while it runs, for the periodic
// performance report and the Prometheus metrics, which read it from
// outside the run (Snapshot). Both kinds of run feed it the same way when
// it is set in their Common config: packets, bytes and ignored packets as
// they are read (per ring live, by the one reader for files), the active
// flows of each meter as it meters, and the flows written, by reason, and
// the sink's errors through a Sink wrapped around the run's output. Live
// runs add the kernel's counters; file runs have none (zero). Every method
// is safe for concurrent use; the counters are atomics.
type Telemetry struct {
	mu      sync.Mutex
	meters  []meterCounters
	sharded bool // Balance from metered, not packets - ignored
	kernel  func() (received, dropped uint64)

	flows      [4]atomic.Uint64 // written, by reason: idle, active, custom, evicted
	sinkErrors atomic.Uint64
	// sourceBytes counts the bytes read from the capture files (headers
	// included), for a progress display: file runs only.
	sourceBytes atomic.Uint64
}

// meterCounters are one meter's counters, padded to a cache line of their
// own so meters do not slow each other down.
type meterCounters struct {
	packets, ignored, bytes atomic.Uint64
	// metered counts the packets a meter of a sharded file run metered
	// (its reader counts packets for every meter, in meter 0's counters).
	metered atomic.Uint64
	active  atomic.Int64
	_       [24]byte
}

// read counts a packet of n bytes read; ignored when the decoder ignored
// it.
func (c *meterCounters) read(n uint32, ignored bool) {
	c.packets.Add(1)
	c.bytes.Add(uint64(n))
	if ignored {
		c.ignored.Add(1)
	}
}

// Snapshot is a consistent-enough reading of the counters (each counter
// is read atomically; they are not read at one instant).
type Snapshot struct {
	FlowsExpired     uint64            `json:"flows_expired"`
	PacketsProcessed uint64            `json:"packets_processed"`
	PacketsIgnored   uint64            `json:"packets_ignored"`
	PacketsDropped   uint64            `json:"packets_dropped_filtered_by_kernel"`
	Balance          []uint64          `json:"meters_packets_processing_balance"`
	Bytes            uint64            `json:"bytes_processed"`
	ActiveFlows      int64             `json:"active_flows"`
	FlowsByReason    map[string]uint64 `json:"flows_expired_by_reason"`
	SinkErrors       uint64            `json:"sink_errors"`
	PacketsReceived  uint64            `json:"packets_received_by_kernel"`
	// SourceBytes is what a file run read from its capture files so far
	// (not in NFStream's report).
	SourceBytes uint64 `json:"-"`
}

// reasons names the expiration ids in FlowsByReason.
var reasons = [4]string{"idle", "active", "custom", "evicted"}

// start sets up the counters of a run with that many meters; kernel, nil
// for files, reads the kernel's counters.
func (t *Telemetry) start(meters int, sharded bool, kernel func() (uint64, uint64)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.meters = make([]meterCounters, meters)
	t.sharded = sharded
	t.kernel = kernel
}

func (t *Telemetry) meter(k int) *meterCounters {
	t.mu.Lock()
	defer t.mu.Unlock()
	return &t.meters[k]
}

// Sink wraps a run's output: it counts the flows written, by reason, and
// the sink's errors. The runners wrap their sink in it.
func (t *Telemetry) Sink(s output.Sink) output.Sink { return &countedSink{Sink: s, t: t} }

type countedSink struct {
	output.Sink
	t *Telemetry
}

func (s *countedSink) Write(r *features.Record) error {
	if err := s.Sink.Write(r); err != nil {
		s.t.sinkErrors.Add(1)
		return err
	}
	switch r.ExpirationID {
	case features.ExpiredIdle:
		s.t.flows[0].Add(1)
	case features.ExpiredActive:
		s.t.flows[1].Add(1)
	case features.ExpiredEvicted:
		s.t.flows[3].Add(1)
	default:
		s.t.flows[2].Add(1)
	}
	return nil
}

func (s *countedSink) Close() error {
	err := s.Sink.Close()
	if err != nil {
		s.t.sinkErrors.Add(1)
	}
	return err
}

// Snapshot reads the counters.
func (t *Telemetry) Snapshot() Snapshot {
	t.mu.Lock()
	meters, sharded, kernel := t.meters, t.sharded, t.kernel
	t.mu.Unlock()
	s := Snapshot{FlowsByReason: map[string]uint64{}, Balance: make([]uint64, len(meters))}
	var packets uint64
	for k := range meters {
		m := &meters[k]
		p, ign := m.packets.Load(), m.ignored.Load()
		s.Balance[k] = p - ign
		if sharded {
			s.Balance[k] = m.metered.Load()
		}
		packets += p
		s.PacketsIgnored += ign
		s.Bytes += m.bytes.Load()
		s.ActiveFlows += m.active.Load()
	}
	s.PacketsProcessed = packets - s.PacketsIgnored
	for i, name := range reasons {
		n := t.flows[i].Load()
		s.FlowsByReason[name] = n
		s.FlowsExpired += n
	}
	s.SinkErrors = t.sinkErrors.Load()
	s.SourceBytes = t.sourceBytes.Load()
	if kernel != nil {
		s.PacketsReceived, s.PacketsDropped = kernel()
	}
	return s
}
