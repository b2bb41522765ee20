package pipeline

import (
	"sync"
	"sync/atomic"

	"github.com/nfstream-go/nfstream/internal/features"
)

// Telemetry counts what a live run does while it runs, for the periodic
// performance report and the Prometheus metrics. Every method is safe for
// concurrent use; the counters are updated with atomics by the ring and
// writer goroutines.
type Telemetry struct {
	mu      sync.Mutex
	meters  []meterCounters
	dropped func() (received, dropped uint64)

	flows      [4]atomic.Uint64 // exported, by reason: idle, active, custom, evicted
	sinkErrors atomic.Uint64
}

// meterCounters are one meter's counters, padded to a cache line of their
// own so meters do not slow each other down.
type meterCounters struct {
	packets, ignored, bytes atomic.Uint64
	active                  atomic.Int64
	_                       [32]byte
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
}

// reasons names the expiration ids in FlowsByReason.
var reasons = [4]string{"idle", "active", "custom", "evicted"}

func (t *Telemetry) start(meters int, stats func() (uint64, uint64)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.meters = make([]meterCounters, meters)
	t.dropped = stats
}

func (t *Telemetry) meter(k int) *meterCounters {
	t.mu.Lock()
	defer t.mu.Unlock()
	return &t.meters[k]
}

func (t *Telemetry) exported(r *features.Record) {
	switch r.ExpirationID {
	case features.ExpiredIdle:
		t.flows[0].Add(1)
	case features.ExpiredActive:
		t.flows[1].Add(1)
	case features.ExpiredEvicted:
		t.flows[3].Add(1)
	default:
		t.flows[2].Add(1)
	}
}

// Snapshot reads the counters.
func (t *Telemetry) Snapshot() Snapshot {
	t.mu.Lock()
	meters, stats := t.meters, t.dropped
	t.mu.Unlock()
	s := Snapshot{FlowsByReason: map[string]uint64{}, Balance: make([]uint64, len(meters))}
	for k := range meters {
		m := &meters[k]
		p := m.packets.Load()
		ign := m.ignored.Load()
		s.Balance[k] = p - ign
		s.PacketsProcessed += p - ign
		s.PacketsIgnored += ign
		s.Bytes += m.bytes.Load()
		s.ActiveFlows += m.active.Load()
	}
	for i, name := range reasons {
		n := t.flows[i].Load()
		s.FlowsByReason[name] = n
		s.FlowsExpired += n
	}
	s.SinkErrors = t.sinkErrors.Load()
	if stats != nil {
		s.PacketsReceived, s.PacketsDropped = stats()
	}
	return s
}
