package pipeline

import (
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
)

// TestTelemetryEvicted checks that flows evicted by the active-flow bound
// are counted under their own reason.
func TestTelemetryEvicted(t *testing.T) {
	tel := new(Telemetry)
	tel.start(1, nil)
	for _, id := range []int8{features.ExpiredIdle, features.ExpiredEvicted, features.ExpiredEvicted, features.ExpiredActive} {
		tel.exported(&features.Record{ExpirationID: id})
	}
	s := tel.Snapshot()
	if s.FlowsByReason["evicted"] != 2 || s.FlowsByReason["idle"] != 1 || s.FlowsByReason["active"] != 1 || s.FlowsExpired != 4 {
		t.Errorf("by reason %v, %d in all; want 2 evicted, 1 idle, 1 active, 4", s.FlowsByReason, s.FlowsExpired)
	}
}

// TestPerMeterShare checks each meter's share of the bound: ceil(N/meters).
func TestPerMeterShare(t *testing.T) {
	for _, c := range []struct {
		n      uint64
		meters int
		want   int
	}{{0, 4, 0}, {1000, 1, 1000}, {1000, 3, 334}, {1, 2, 1}, {10, 0, 10}} {
		if got := perMeter(c.n, c.meters); got != c.want {
			t.Errorf("perMeter(%d, %d) = %d, want %d", c.n, c.meters, got, c.want)
		}
	}
}

// TestLimitNotes checks what the summary says about the limits.
func TestLimitNotes(t *testing.T) {
	st := Stats{MaxFlows: 10, MaxActiveFlows: 1000}
	if got := st.LimitNotes(); got != "" {
		t.Errorf("no limit reached: %q", got)
	}
	st.Evicted, st.LimitReached = 5, true
	if got, want := st.LimitNotes(), " (5 flows evicted early: active-flow limit 1000); stopped at --max-flows 10"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
